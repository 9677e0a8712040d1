"""SCIM filters (`filter=userName eq "alice"`) on the attributes this portal holds, parsed by
scim2-filter-parser into a WHERE clause over the people's (or teams') table. An attribute the
map does not name, or a filter that does not parse, is refused (scimType invalidFilter): the
library would otherwise drop the unknown part and answer every row, or none."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django_scim import exceptions
from django_scim.filters import FilterQuery
from scim2_filter_parser.parser import SCIMParserError
from scim2_filter_parser.queries.sql import SQLQuery

from apps.accounts.models import Team, User

from .models import ProvisionedTeam, ProvisionedUser


class PortalUserFilterQuery(FilterQuery):
    attr_map = {
        ("userName", None, None): f"{User._meta.db_table}.username",
        ("name", "givenName", None): f"{User._meta.db_table}.first_name",
        ("name", "familyName", None): f"{User._meta.db_table}.last_name",
        ("active", None, None): f"{User._meta.db_table}.is_active",
        ("emails", None, None): f"{User._meta.db_table}.email",
        ("emails", "value", None): f"{User._meta.db_table}.email",
        ("externalId", None, None): f"{ProvisionedUser._meta.db_table}.external_id",
    }
    joins = (f"LEFT JOIN {ProvisionedUser._meta.db_table} ON {ProvisionedUser._meta.db_table}.user_id = "
             f"{User._meta.db_table}.id",)
    table = User._meta.db_table


class PortalGroupFilterQuery(FilterQuery):
    attr_map = {
        ("displayName", None, None): f"{Team._meta.db_table}.name",
        ("externalId", None, None): f"{ProvisionedTeam._meta.db_table}.external_id",
    }
    joins = (f"LEFT JOIN {ProvisionedTeam._meta.db_table} ON {ProvisionedTeam._meta.db_table}.team_id = "
             f"{Team._meta.db_table}.id",)
    table = Team._meta.db_table


def invalid_filter(detail: str) -> exceptions.BadRequestError:
    return exceptions.BadRequestError(detail, scim_type="invalidFilter")


def apply_filter(queryset: QuerySet, parser: type[FilterQuery], text: str) -> QuerySet:
    """`queryset` narrowed to the rows `text` matches: one subquery, parameters bound."""
    if len(text) > 1000:
        raise invalid_filter("The filter is longer than 1000 characters.")
    try:
        query = SQLQuery(text, parser.table, parser.attr_map, parser.joins)
    except (SCIMParserError, ValueError, IndexError, NotImplementedError, AttributeError, TypeError) as exc:
        raise invalid_filter(f"The filter does not parse: {exc}") from exc
    unknown = sorted({".".join(p for p in path[:2] if p) for path in query.transpiler.attr_paths
                      if tuple(path) not in parser.attr_map})
    if unknown:
        known = sorted({".".join(p for p in key[:2] if p) for key in parser.attr_map})
        raise invalid_filter(f"Unknown attribute in filter: {', '.join(unknown)}. Filterable: {', '.join(known)}.")
    if not query.where_sql:
        raise invalid_filter("The filter names no attribute.")
    where = query.where_sql.format(**{key: "%s" for key in query.params_dict})
    table = parser.table
    # Table and column names come from the models and the fixed map; values are parameters.
    sql = f"SELECT DISTINCT {table}.id FROM {table} {' '.join(parser.joins)} WHERE {where}"  # noqa: S608
    return queryset.filter(pk__in=RawSQL(sql, query.params))  # noqa: S611  (see above)
