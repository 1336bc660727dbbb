"""Reference from a video: an extract job on the trainer service (progress and result via polling.py)."""
from __future__ import annotations

from pathlib import Path

import bpy

from .. import service_link
from ..core.errors import InvalidInputError
from .report import run_reporting
from .service import ensure_service, service_ready

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


class BACKFLIP_OT_import_video(bpy.types.Operator):
    """Extract a reference motion from the video (trimmed to In/Out) with the trainer service"""

    bl_idname = "backflip.import_video"
    bl_label = "Extract Reference"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        settings = context.scene.backflip.reference
        if settings.job_id:
            cls.poll_message_set("An extraction is running: wait for it or cancel it")
            return False
        if not settings.video_path:
            cls.poll_message_set("Choose a video first")
            return False
        return service_ready(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.backflip.reference

        def action() -> str:
            video = Path(bpy.path.abspath(settings.video_path))
            if not video.is_file():
                raise InvalidInputError(f"{video}: no such video", "choose the video file again")
            if settings.trim_out and settings.trim_out <= settings.trim_in:
                raise InvalidInputError(
                    f"Out ({settings.trim_out:.2f} s) is not after In ({settings.trim_in:.2f} s)", "set Out to 0 (the end) or after In"
                )
            ensure_service(context)
            reference_id, job_id = service_link.submit_extract(str(video), settings.trim_in or None, settings.trim_out or None)
            settings.reference_id, settings.job_id, settings.progress, settings.message = reference_id, job_id, 0.0, "Queued"
            return f"Extracting {video.name} (job {job_id})"

        return run_reporting(self, action)


class BACKFLIP_OT_cancel_extract(bpy.types.Operator):
    """Cancel the running extraction"""

    bl_idname = "backflip.cancel_extract"
    bl_label = "Cancel Extraction"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.scene.backflip.reference.job_id:
            cls.poll_message_set("No extraction is running")
            return False
        return service_ready(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.backflip.reference

        def action() -> str:
            service_link.cancel_job(settings.job_id)
            settings.job_id, settings.message = "", "Cancelled"
            return "Extraction cancelled"

        return run_reporting(self, action)


CLASSES = (BACKFLIP_OT_import_video, BACKFLIP_OT_cancel_extract)
