"""Waveform endpoints of an event: the record section, one trace, and a trace's spectrogram.

Answers are JSON. Problems with the data (a channel without data, a corrupt file, a filter a channel's
sampling rate cannot take) are listed under "problems" and never fail the whole figure. An event whose
time window has no registered waveforms answers 200 with an empty figure and a "message" saying so; an
unknown event answers 404; a bad query parameter answers 400 naming the parameter.
"""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from analyst.api.permissions import HasSeistriageRole
from analyst.api.schema import (
    ANY_ROLE,
    EVENT_ID,
    FORBIDDEN,
    SEED_ID,
    not_found,
    typed_response,
)
from analyst.selectors.waveforms import (
    DEFAULT_WIDTH,
    MAX_WIDTH,
    MAX_WINDOW_S,
    QueryError,
    RecordSectionPayload,
    SpectrogramPayload,
    TraceFigurePayload,
    WaveformError,
    event_spectrogram_payload,
    event_trace_payload,
    event_waveforms_payload,
    payload_json,
    waveform_query_parse,
)
from waveforms.processing import (
    FILTER_PRESETS,
)


def _answer(produce: Any, request: Request, **kwargs: Any) -> HttpResponse:
    try:
        if "seed_id" in kwargs and (kwargs["seed_id"].count(".") != 3 or "\x00" in kwargs["seed_id"]):
            raise QueryError(f"not a SEED id NET.STA.LOC.CHA: {kwargs['seed_id']!r}")
        query = waveform_query_parse(params=request.query_params)
        payload = produce(query=query, **kwargs)
    except QueryError as error:
        return HttpResponse(payload_json(WaveformError(error=str(error))), status=400, content_type="application/json")
    return HttpResponse(payload, content_type="application/json")


_WAVEFORM_PARAMETERS = [
    OpenApiParameter(
        "filter",
        OpenApiTypes.STR,
        enum=list(FILTER_PRESETS),
        description="a band-pass preset in Hz; or give fmin and/or fmax",
    ),
    OpenApiParameter("fmin", OpenApiTypes.NUMBER, description="band-pass (with fmax) or high-pass corner, Hz"),
    OpenApiParameter("fmax", OpenApiTypes.NUMBER, description="band-pass (with fmin) or low-pass corner, Hz"),
    OpenApiParameter(
        "start",
        OpenApiTypes.STR,
        description="window start: seconds after the origin time "
        "(may be negative) or an ISO 8601 time; default from the picks and predicted arrivals",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.STR,
        description=f"window end, as start; the window may span at most {MAX_WINDOW_S / 86400:g} days",
    ),
    OpenApiParameter(
        "width",
        OpenApiTypes.INT,
        description=f"figure width in pixels, 50-{MAX_WIDTH} (default "
        f"{DEFAULT_WIDTH}): traces are decimated to about this many points",
    ),
]
_WAVEFORM_ERRORS = {
    400: OpenApiResponse(
        typed_response(WaveformError),
        description="a bad query parameter or SEED id, named in `error`; or a window whose channels hold more "
        "samples than SEISTRIAGE_WAVEFORM_MAX_SAMPLES (narrow start/end or channels)",
    ),
    403: FORBIDDEN,
    404: not_found("no event with this id"),
}
_DATA_PROBLEMS = (
    " Channels without data, unreadable files and filters a channel cannot take are listed under `problems` "
    "and never fail the figure; a window with no waveforms answers 200 with a `message`."
)


class EventWaveformsApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole]  # an outsider with no role gets 403

    @extend_schema(
        summary="Record section of an event: its channels around the origin time, with picks and predicted arrivals",
        description=f"{ANY_ROLE}{_DATA_PROBLEMS} Errors: 400 naming the parameter, 403, 404 for an unknown event.",
        parameters=[
            EVENT_ID,
            *_WAVEFORM_PARAMETERS,
            OpenApiParameter(
                "channels",
                OpenApiTypes.STR,
                description="only these SEED ids NET.STA.LOC.CHA, "
                "separated by commas (default: every channel with data in the window)",
            ),
        ],
        responses={200: typed_response(RecordSectionPayload), **_WAVEFORM_ERRORS},
    )
    def get(self, request: Request, event_id: int) -> HttpResponse:
        return _answer(event_waveforms_payload, request, event_id=event_id)


class EventTraceApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole]  # an outsider with no role gets 403

    @extend_schema(
        operation_id="events_waveforms_trace_retrieve",
        summary="One channel of an event as a figure, with its sampling and the CNN's saliency",
        description=f"{ANY_ROLE}{_DATA_PROBLEMS} Errors: 400 naming the parameter, 403, 404 for an unknown event.",
        parameters=[EVENT_ID, SEED_ID, *_WAVEFORM_PARAMETERS],
        responses={200: typed_response(TraceFigurePayload), **_WAVEFORM_ERRORS},
    )
    def get(self, request: Request, event_id: int, seed_id: str) -> HttpResponse:
        return _answer(event_trace_payload, request, event_id=event_id, seed_id=seed_id)


class EventSpectrogramApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole]  # an outsider with no role gets 403

    @extend_schema(
        summary="Spectrogram of one channel of an event",
        description=f"{ANY_ROLE}{_DATA_PROBLEMS} Errors: 400 naming the parameter, 403, 404 for an unknown event.",
        parameters=[EVENT_ID, SEED_ID, *_WAVEFORM_PARAMETERS],
        responses={200: typed_response(SpectrogramPayload), **_WAVEFORM_ERRORS},
    )
    def get(self, request: Request, event_id: int, seed_id: str) -> HttpResponse:
        return _answer(event_spectrogram_payload, request, event_id=event_id, seed_id=seed_id)
