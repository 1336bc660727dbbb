"""One error family for both sides: every error carries a hint saying what the user should do."""
from __future__ import annotations


class BackflipError(Exception):
    """Base error. `hint` is shown to the user next to the message."""

    code = "backflip_error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "hint": self.hint}


class ClipFormatError(BackflipError):
    """A motion clip file that cannot be read."""

    code = "clip_format"


class InvalidInputError(BackflipError):
    """A parameter or payload that does not make sense."""

    code = "invalid_input"


class NotFoundError(BackflipError):
    """A file, job or stage that does not exist."""

    code = "not_found"


class VideoError(BackflipError):
    """A video that cannot be read, or in which no usable person is found."""

    code = "video"
