"""Importers for station metadata and waveform data: one file, one transaction, errors that name the file."""
