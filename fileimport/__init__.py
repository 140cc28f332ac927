"""What every importer shares (events, stations, waveforms): the error that names the file and line, and the
checks a file passes before a reader sees it. A leaf: it imports no app and no Django."""
