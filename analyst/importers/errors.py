# One error type for every importer; it lives in `waveforms` because that app may import no other.
from waveforms.errors import ImportFileError

__all__ = ["ImportFileError"]
