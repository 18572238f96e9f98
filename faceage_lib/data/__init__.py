"""The data every other half reads: ``download`` (Kaggle and archives), ``utkface`` (labels from
file names, de-duplication, the split and its manifest), ``crops`` (every image through the
inference detector and crop, cached) and ``corruptions`` (the capture faults people's photos have).

Imports only :mod:`faceage_lib.inference`; training and evaluation build on it, never the other way.
"""
