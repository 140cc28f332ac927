"""Load real demo data: by default what the install brings (ObsPy's bundled files and the repository's demo/
bundle: unreviewed events with waveforms, picks and stations, and labelled events for a first ranker and a first
CNN), with --data the whole shared bundle instead of demo/; create the demo users and print their passwords once."""

import secrets
from pathlib import Path
from typing import Any

import obspy
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from analyst.roles import roles_ensure
from ranking.models import ModelVersion
from ranking.registry import model_version_active
from ranking.synthetic_false import demo_false_events_build
from ranking.tasks import train_waveform_network
from ranking.training import TrainingDataError, ranker_train

OBSPY = Path(obspy.__path__[0])

# (command, paths relative to the ObsPy package, extra options)
BUNDLED: list[tuple[str, list[str], dict[str, Any]]] = [
    ("import_events", ["io/iaspei/tests/data/ipe202409sel_ims.txt"], {}),
    # These two carry evaluationMode "manual": an analyst set their types, so they are decisions too.
    ("import_events", ["io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml"], {"reviewed": True}),
    ("import_events", ["io/seiscomp/tests/data/quakeml_1.2_quarryblast.scml"], {"reviewed": True}),
    ("import_events", ["io/quakeml/tests/data/usgs_event.xml"], {"reviewed": True}),
    # A Seisan select.out file is an analyst-reviewed database extract: its types are decisions.
    ("import_events", ["io/nordic/tests/data/select.out"], {"reviewed": True}),
    ("import_stations", ["core/data/BW_GR_misc.xml", "io/arclink/tests/data/arclink_inventory.xml"], {}),
    (
        "import_waveforms",
        [
            f"signal/tests/data/BW.UH{n}._.{c}.D.2010.147.cut.slist.gz"
            for n, c in [(1, "SHZ"), (2, "SHZ"), (3, "SHE"), (3, "SHN"), (3, "SHZ"), (4, "EHZ")]
        ],
        {},
    ),
]

# (command, paths relative to the demo bundle, extra options); demo/README.md says where each file came from.
# The labelled catalogue rows train the first ranker; the unreviewed events are the ones with waveforms. Stations
# and waveforms come first: registered after the events, each of the 130 files would send the events it covers
# back to scoring one by one, and the worker would work through 130 small batches before the queue is scored.
DEMO_BUNDLE: list[tuple[str, list[str], dict[str, Any]]] = [
    ("import_stations", ["stations"], {}),
    ("import_waveforms", ["waveforms"], {}),
    (
        "import_events",
        ["events/pnsn_labelled.csv", "events/pnw_labelled.csv", "events/esec_labelled.txt"],
        {"reviewed": True},
    ),
    ("import_events", ["events/pnw_unreviewed.csv", "events/esec_unreviewed.txt", "events/se_usa_unreviewed.xml"], {}),
]

# (command, paths relative to the shared data folder, extra options)
SHARED: list[tuple[str, list[str], dict[str, Any]]] = [
    ("import_events", ["catalogs/pnsn_comcat_2018-2022.csv"], {"reviewed": True}),
    ("import_events", ["catalogs/comcat_all_week_2021-05.csv"], {}),
    ("import_events", ["pnw/events.csv"], {"reviewed": True}),
    ("import_events", ["esec/IRISExoticEventCatalog.txt"], {"reviewed": True}),
    ("import_stations", ["esec/stations"], {}),
    ("import_waveforms", ["pnw/waveforms", "esec/waveforms", "se_usa_sac/EQ", "se_usa_sac/EP"], {}),
]

# The first CNN learns from the labelled events with waveforms alone (the demo's, or the shared bundle's once loaded),
# in the worker: a few epochs of the small network take about half a minute on two cores, so the demo's queue has
# CNN probabilities and saliency within a minute or two of the start (a real CNN trains with `train --kind cnn`).
FIRST_CNN_EPOCHS = 30
# Noise-placed false events in the demo's queue: enough to see them sink, hide and be rejected.
DEMO_FALSE_EVENTS = 3

DEMO_USERS = (
    ("analyst", ["analyst"], False),
    ("senior", ["analyst", "senior analyst"], False),
    ("admin", ["analyst", "senior analyst", "admin"], True),
)


class Command(BaseCommand):
    help = "Load real demo data (ObsPy's bundled files; --data DIR for the shared bundle) and demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data", type=Path, help="the shared data folder (for example ../shared/data), loaded instead of demo/"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        steps = [(command, [OBSPY / p for p in paths], extra) for command, paths, extra in BUNDLED]
        data: Path | None = options["data"]
        if data is not None:
            if not (data / "README.md").exists():
                raise CommandError(f"{data}: not the shared data folder (no README.md there)")
            steps += [(command, [data / p for p in paths], extra) for command, paths, extra in SHARED]
            # PhaseNet's folder also holds picks.csv; register only its MiniSEED windows.
            steps.append(("import_waveforms", sorted((data / "phasenet").glob("*.mseed")), {}))
        else:
            # The shared folder holds everything demo/ was cut from, so demo/ is loaded only without it.
            bundle: Path = settings.DEMO_BUNDLE_DIR
            if not (bundle / "README.md").exists():
                raise CommandError(f"{bundle}: not the demo bundle (no README.md there); check SEISTRIAGE_DEMO_BUNDLE")
            steps += [(command, [bundle / p for p in paths], extra) for command, paths, extra in DEMO_BUNDLE]
        available = get_commands()
        for command, paths, extra in steps:
            if command not in available:
                self.stderr.write(f"skipping {command}: not available in this version")
                continue
            call_command(command, *[str(p) for p in paths], stdout=self.stdout, stderr=self.stderr, **extra)
        if data is None:
            self.add_false_events(settings.DEMO_BUNDLE_DIR)
        self.train_first_ranker()
        self.train_first_cnn()
        self.create_users()

    def add_false_events(self, bundle: Path) -> None:
        """A few automatic events that do not exist, as a pipeline's false triggers do: origins placed in the real
        pre-event noise of the bundle's labelled PNW records (docs/false_events.md). They are unlabelled; the
        first ranker's promotion scores them with the rest of the queue."""
        report = demo_false_events_build(
            bundle=Path(bundle), out_dir=Path(settings.DATA_DIR) / "synthetic_false", count=DEMO_FALSE_EVENTS
        )
        created = sum(report.created.values())
        if created:
            self.stdout.write(f"added {created} noise-placed false events to the queue (origins in real noise)")

    def train_first_ranker(self) -> None:
        """On the first run there is no model: train and promote one from the demo's labelled events."""
        if model_version_active(kind="ranker") is not None:
            self.stdout.write("an active ranker exists; not retraining")
            return
        try:
            version = ranker_train(created_by="load_demo", until=None, estimator="hist_gradient_boosting", promote=True)
        except TrainingDataError as error:
            self.stderr.write(
                f"no first ranker trained: {error}. The demo bundle (demo/) or the shared one (--data DIR) has "
                "enough labels"
            )
            return
        cold_start = version.training_summary.get("cold_start")
        if cold_start:  # too few labels for a local model: the generic model alone (docs/ranking.md)
            self.stdout.write(f"promoted the first ranker {version.version}: {cold_start}")
            return
        self.stdout.write(f"trained and promoted the first ranker {version.version} from the demo's labels")

    def train_first_cnn(self) -> None:
        """On the first run there is no CNN: the worker trains and promotes one from the labelled events with
        waveforms, then classifies the queue with it (probabilities and saliency on the event pages)."""
        if model_version_active(kind=ModelVersion.Kind.CNN) is not None:
            self.stdout.write("an active CNN exists; not retraining")
            return
        transaction.on_commit(
            lambda: train_waveform_network.delay(
                database_only=True, epochs=FIRST_CNN_EPOCHS, promote=True, created_by="load_demo"
            )
        )
        self.stdout.write(
            f"sent the first CNN's training ({FIRST_CNN_EPOCHS} epochs on the labelled events with waveforms) to the "
            "worker; it classifies the queue once promoted"
        )

    def create_users(self) -> None:
        groups = roles_ensure()
        for username, roles, is_superuser in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"user {username!r} exists; password unchanged")
                continue
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username, password=password)
            user.is_staff = user.is_superuser = is_superuser
            user.save(update_fields=["is_staff", "is_superuser"])
            user.groups.set([groups[role] for role in roles])
            self.stdout.write(self.style.SUCCESS(f"login {username} / {password}  ({', '.join(roles)})"))
        self.stdout.write("These passwords are shown only once.")
