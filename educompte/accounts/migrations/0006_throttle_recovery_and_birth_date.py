from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_signinfailure"),
    ]

    operations = [
        migrations.AddField(
            model_name="throttlecounter",
            name="birth_date_failures",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="throttlecounter",
            name="kind",
            field=models.CharField(
                choices=[
                    ("pair", "Pair"),
                    ("account", "Account"),
                    ("address", "Address"),
                    ("recovery", "Recovery"),
                ],
                max_length=8,
            ),
        ),
    ]
