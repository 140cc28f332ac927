"""Bulletins: reviewed events leave Seistriage in the formats the seismological world reads.

`types` maps event types per format, `conversion` turns stored events into ObsPy events with their
provenance, `writers` stream each format, `services` select, write and record published bulletins.
"""
