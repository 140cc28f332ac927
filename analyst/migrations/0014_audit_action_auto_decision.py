# Conformal triage's automatic decisions (SEISTRIAGE_TRIAGE_AUTO_COMMIT) are audited with their own action.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analyst", "0013_audit_action_undo"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("accept", "accepted"),
                    ("reject", "rejected as false"),
                    ("set_type", "set type"),
                    ("comment", "commented"),
                    ("claim_break", "broke a claim"),
                    ("review_refused", "decision refused (conflict)"),
                    ("pick", "picked a phase"),
                    ("undo", "undid a decision"),
                    ("auto_decision", "decided automatically (conformal triage)"),
                ],
                max_length=16,
            ),
        ),
    ]
