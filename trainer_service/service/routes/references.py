"""Reference clips: from a video (an extract job with a trim) or from a clip file (ready at once)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from backflip_addon.core.clip import dumps_deepmimic, load_clip
from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.files import atomic_write_text
from backflip_addon.core.protocol import JobStatus, Reference, ReferenceRequest

from ...sim.reference_source import extraction_confidence, with_confidence
from ..deps import Service, service
from .common import ERRORS, check_number

router = APIRouter(prefix="/references", tags=["references"], responses=ERRORS)
KINDS = ("extract", "import")


def reference_of(job: JobStatus) -> Reference:
    return Reference(id=job.id, source="video" if job.kind == "extract" else "clip", state=job.state,
                     name=job.params.get("name", ""), clip=job.result.get("clip"), job=job)


@router.post("", status_code=201)
def create_reference(request: ReferenceRequest, svc: Service = Depends(service)) -> Reference:
    """From `video` (+ `start`/`end` seconds): queues an extract job. From `clip`: checks and copies it."""
    if (request.video is None) == (request.clip is None):
        raise InvalidInputError("a reference needs exactly one of 'video' and 'clip'",
                                "send the path of a video to extract, or of a DeepMimic .txt / .npz clip")
    check_number("start", request.start, 0.0)
    check_number("end", request.end, 0.0, low_open=True)
    if request.start is not None and request.end is not None and request.end <= request.start:
        raise InvalidInputError(f"end {request.end} s is not after start {request.start} s", "swap or fix the trim")
    if request.video is not None:
        video = svc.settings.check_path(request.video, "video")
        if not video.is_file():
            raise NotFoundError(f"no video at {video}", "upload it first (POST /uploads) or fix the path")
        params = {"video": str(video), "start": request.start, "end": request.end, "name": request.name or video.stem}
        job_id, folder = svc.new_job_folder()
        return reference_of(svc.store.create("extract", params, folder=str(folder), job_id=job_id))
    source = svc.settings.check_path(request.clip, "clip")
    if not source.is_file():
        raise NotFoundError(f"no clip at {source}", "upload it first (POST /uploads) or fix the path")
    clip = load_clip(source)  # ClipFormatError (400) names the file and line
    # An extraction's per-frame confidence (its .npz) travels in the copy, so training weighs it.
    clip = with_confidence(clip, extraction_confidence(source, clip))
    job_id, folder = svc.new_job_folder()
    atomic_write_text(folder / "clip.txt", dumps_deepmimic(clip))
    job = svc.store.create("import", {"clip": str(source), "name": request.name or source.stem}, state="done",
                           folder=str(folder), job_id=job_id, result={"clip": str(folder / "clip.txt")})
    svc.store.update(job.id, progress=1.0, message="done")
    return reference_of(svc.store.get(job.id))


@router.get("")
def list_references(svc: Service = Depends(service)) -> list[Reference]:
    return [reference_of(job) for job in svc.store.list(kinds=KINDS)]


@router.get("/{reference_id}")
def get_reference(reference_id: str, svc: Service = Depends(service)) -> Reference:
    return reference_of(svc.job_of_kind(reference_id, KINDS, "reference"))
