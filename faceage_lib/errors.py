"""The exceptions faceage raises on purpose, each with a message a person can act on."""


class FaceAgeError(Exception):
    """Base class for every error faceage raises deliberately."""


class ImageError(FaceAgeError, ValueError):
    """The input could not be read as a photo (not an image, truncated, too large, ...)."""


class ModelFileError(FaceAgeError):
    """A model file is missing, corrupt or does not match its checksum manifest."""


class DatasetError(FaceAgeError):
    """UTKFace could not be found, downloaded or read."""


class StoreError(FaceAgeError):
    """The feedback database could not be opened, read or written.

    ``reason`` says why without naming the database's location (safe to show a web user).
    """

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class VideoError(FaceAgeError, ValueError):
    """The input could not be read as a video, or is over the limits (size, length, frame size)."""
