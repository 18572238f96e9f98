"""The inference half: photo -> upright RGB -> faces -> the one crop -> model on LiteRT -> results.

One module a step: ``images`` (open any photo safely) -> ``detectors`` (find faces) -> ``crop``
(the aligned face crop training also uses) -> ``estimator`` (the model on ``runtime``, its files
checked by ``modelfiles``) -> ``predictor`` (all of it, one public class).

It imports nothing from training, evaluation or the app, and no TensorFlow, Keras, pandas,
Gradio or SQLAlchemy: a test holds that line.
"""
