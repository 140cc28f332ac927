"""Uploads on the import page: a job of files, imported in the background with progress."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.permissions import HasSeniorRole, request_user
from analyst.api.schema import (
    FORBIDDEN_SENIOR,
    SENIOR_ROLE,
    ApiErrorSerializer,
    ImportUploadSerializer,
    bad_request,
    name_in_path,
    not_found,
    typed_response,
)
from analyst.ingest.uploads import (
    UPLOAD_KINDS,
    ImportJobData,
    UploadedPart,
    UploadError,
    import_job_create,
    import_job_get,
)
from analyst.web.disclosure import import_job_public

MAX_FILES_PER_UPLOAD = 50


class ImportJobListApi(APIView):
    """POST multipart files under `events`, `stations` and `waveforms` (and `reviewed=true` for a reviewed
    catalogue): 202 with the job, imported in the background; 400 naming the file when one is refused."""

    permission_classes = [IsAuthenticated, HasSeniorRole]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload event, station and waveform files to import in the background",
        description=f"{SENIOR_ROLE} Every file is checked before any is kept; the import runs in a worker "
        "(follow it at /api/imports/{job_id}/). Errors: 400 naming the refused file, 403, 413 when the upload "
        "is too large.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            202: OpenApiResponse(typed_response(ImportJobData), description="the job, queued"),
            400: bad_request(
                "no files, too many files, or a file refused (named)",
                example={"files": ["quakes.txt: not a waveform file (no ObsPy waveform reader recognises it)"]},
            ),
            403: FORBIDDEN_SENIOR,
            413: OpenApiResponse(ApiErrorSerializer, description="the upload is too large"),
        },
    )
    def post(self, request: Request) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_FILES_PER_UPLOAD * settings.SEISTRIAGE_MAX_UPLOAD_BYTES:
            return Response({"detail": "the upload is too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        parts = [UploadedPart(kind, upload) for kind in UPLOAD_KINDS for upload in request.FILES.getlist(kind)]
        if len(parts) > MAX_FILES_PER_UPLOAD:
            raise ValidationError({"files": [f"at most {MAX_FILES_PER_UPLOAD} files per upload"]})
        reviewed = str(request.data.get("reviewed", "")).lower() in ("true", "on", "1")
        try:
            job = import_job_create(user=request_user(request), parts=parts, reviewed=reviewed)
        except UploadError as error:
            raise ValidationError({"files": [str(error)]}) from None
        return Response(import_job_public(job), status=status.HTTP_202_ACCEPTED)


class ImportJobApi(APIView):
    permission_classes = [IsAuthenticated, HasSeniorRole]

    @extend_schema(
        summary="An import job's progress and per-file outcome",
        description=f"{SENIOR_ROLE} Jobs are kept in the database. Errors: 403; 404 for an unknown job.",
        parameters=[name_in_path("job_id", "the job id returned by the upload")],
        responses={200: typed_response(ImportJobData), 403: FORBIDDEN_SENIOR, 404: not_found("no such job")},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = import_job_get(job_id=job_id)
        if job is None:
            raise NotFound(f"no import job {job_id}")
        return Response(import_job_public(job))
