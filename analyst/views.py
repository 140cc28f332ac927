from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analyst.selectors import event_detail_get, event_list_page


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    page = event_list_page(page_number=request.GET.get("page", "1"))
    return render(request, "analyst/event_list.html", {"page": page})


@login_required
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    return render(request, "analyst/event_detail.html", event_detail_get(event_id=event_id))
