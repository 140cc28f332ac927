from django.http import HttpRequest

from analyst.roles import user_is_senior_analyst


def navigation(request: HttpRequest) -> dict[str, object]:
    """What the shared navigation needs on every page: the current URL name and whether to offer senior links."""
    match = request.resolver_match
    return {
        "nav_current": match.url_name if match else "",
        "nav_senior": user_is_senior_analyst(request.user),
    }
