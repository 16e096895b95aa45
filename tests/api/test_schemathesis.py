"""Schemathesis fuzzes every operation of the app's own OpenAPI schema, in-process through the WSGI app
and the test database: no response may be a server error, and every response must match the schema."""
from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from dealership.wsgi import application
from tests import factories as f

EXAMPLES = 30  # per operation; ~90 operations


def _schema() -> dict:
    # Built in-process (the served /api/schema/ needs a login): the same generator, the same document.
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


schema = schemathesis.openapi.from_dict(_schema())


@pytest.fixture
def token(db, manager, consultant, store):
    """A manager's token, and a few records (ids 1, 2, 3... of a fresh database) for the fuzzer to find."""
    from rest_framework.authtoken.models import Token

    f.OrderFactory(customer=f.CustomerFactory(dealership=store, consultant=consultant), delivered_at=f.T0)
    # Like Django's test client: the handler must not close the test's connection between requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield Token.objects.get_or_create(user=manager)[0].key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=list(HealthCheck))
def test_no_operation_errors_or_breaks_its_schema(case, token):
    case.call_and_validate(app=application, headers={"Authorization": f"Token {token}"},
                           checks=[not_a_server_error, response_schema_conformance])
