import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.ml.gazetteer import GazetteerError, gazetteer_read


class Command(BaseCommand):
    help = "Validate a mine/quarry gazetteer CSV (name,latitude,longitude,type) and install it as SEISTRIAGE_GAZETTEER."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            gazetteer = gazetteer_read(options["path"])
        except GazetteerError as error:
            raise CommandError(str(error)) from None
        target = Path(settings.SEISTRIAGE_GAZETTEER)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(options["path"], partial)
        partial.replace(target)
        self.stdout.write(f"installed {len(gazetteer)} sites as {target}; rescore with `manage.py score --all`")
