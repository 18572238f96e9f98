"""One result per photo, whatever happens to it: its faces, or the reason it could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..inference.images import ImageSource


@dataclass
class PhotoResult:
    """A photo's faces (each as :meth:`FaceResult.to_dict` gives it), its size, or its error."""

    path: str
    faces: list[dict] = field(default_factory=list)
    error: str | None = None
    width: int | None = None
    height: int | None = None

    def to_dict(self) -> dict:
        """The ``--format json``/``jsonl`` object: ``{"path", "faces", "error"}``."""
        return {"path": self.path, "faces": self.faces, "error": self.error}


def age_check(age: float, challenge_age: float) -> str:
    """``"challenge"`` where the estimated age is under ``challenge_age``, else ``"pass"``: the rule of
    age-assurance practice, which sets the challenge age above the legal age (e.g. 25 for 18) so that
    the model's error lets few minors pass."""
    return "challenge" if age < challenge_age else "pass"


def with_age_checks(result: PhotoResult, challenge_age: float | None) -> PhotoResult:
    """``result`` with each face's ``check`` (:func:`age_check`) added; unchanged without a challenge age."""
    if challenge_age is not None:
        for face in result.faces:
            face["check"] = age_check(face["age"], challenge_age)
    return result


def predict_photo(predictor, path: str, source: ImageSource | None = None) -> PhotoResult:
    """The faces in the photo at ``path`` (read from ``source`` if given: its bytes, say).

    Never raises for the photo's sake: an unreadable file, and any failure while reading or
    analysing it, becomes that photo's ``error``.
    """
    from ..errors import ImageError

    try:
        analysis = predictor.analyze(path if source is None else source)
    except ImageError as error:  # read from bytes, the message names "the uploaded data": name the file
        return PhotoResult(path, error=str(error).replace("the uploaded data", path, 1))
    except Exception as error:  # noqa: BLE001 - a decoder's own exception fails this photo, not the run
        return PhotoResult(path, error=f"{path} could not be analysed ({type(error).__name__}: {error})")
    height, width = analysis.image.shape[:2]
    faces = [{"face": number, **face.to_dict()} for number, face in enumerate(analysis.faces, 1)]  # reading order
    return PhotoResult(path, faces, None, width, height)
