from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

from releaseportal.input import parse_id


class PortalPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        """`page_size` above 500 is capped; one that is not a positive integer (`null`, `-1`,
        `²`) is a 400 naming it instead of silently reading as the default."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        size = parse_id(raw) if len(raw) <= 18 else None
        if size is None:
            raise exceptions.ValidationError({self.page_size_query_param: ["A positive integer (at most 500)."]})
        return min(size, self.max_page_size)
