"""The waveform CNN (pure: NumPy, ObsPy, Keras/TensorFlow; no Django).

- ``windows``: one station's window, resampled, bandpassed and normalised, from an ObsPy trace;
- ``datasets``: the labelled real windows of the shared data (PNW, ESEC, SE USA, PhaseNet);
- ``network``: the 1-D CNN, training, compiled batched inference, saliency, filters, aggregation.
"""
