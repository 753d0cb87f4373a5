"""Who deactivated an account: staff (kept deactivated by later imports) or the registry.
The registry always records a leaving date when it deactivates; accounts deactivated
without one before this migration were deactivated by staff."""

from django.db import migrations, models


def mark_staff_deactivations(apps, schema_editor):
    accounts = apps.get_model("pupils", "StudentAccount").objects
    accounts.filter(state="deactivated", student__left_on__isnull=True).update(
        deactivated_by_staff=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pupils", "0007_pending_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="studentaccount",
            name="deactivated_by_staff",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_staff_deactivations, migrations.RunPython.noop, elidable=True),
    ]
