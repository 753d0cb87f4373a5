"""An address waits in ``pending_email`` until its link is followed; ``email`` only ever
holds a confirmed address. Addresses recorded unconfirmed before move there."""

from django.db import migrations, models
from django.db.models import F


def move_unconfirmed(apps, schema_editor):
    accounts = apps.get_model("pupils", "StudentAccount").objects
    accounts.filter(email_confirmed=False).exclude(email="").update(
        pending_email=F("email"), email=""
    )


def move_back(apps, schema_editor):
    accounts = apps.get_model("pupils", "StudentAccount").objects
    accounts.filter(email="").exclude(pending_email="").update(
        email=F("pending_email"), email_confirmed=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pupils", "0006_drop_search_trigram_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="studentaccount",
            name="pending_email",
            field=models.EmailField(
                blank=True, max_length=254, verbose_name="adresse électronique à confirmer"
            ),
        ),
        migrations.RunPython(move_unconfirmed, move_back, elidable=True),
    ]
