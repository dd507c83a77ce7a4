from loglens.templates import mask, template_id_for


def test_mask_replaces_variables() -> None:
    template, params = mask(
        "HikariPool-1 - Connection is not available, request timed out after 30000ms. user=a.b@example.com "
        "id=3f2a9c1e-1111-4aaa-9bbb-123456789abc from 10.0.0.5:5432"
    )
    assert "30000" not in template and "example.com" not in template and "10.0.0.5" not in template
    assert "3f2a9c1e" not in template
    assert (
        template.startswith("HikariPool-<*> - Connection is not available")
        or "Connection is not available" in template
    )
    assert params


def test_same_statement_same_template() -> None:
    a, _ = mask("Received POST /api/orders for customer 4711 in 35ms")
    b, _ = mask("Received POST /api/orders for customer 99 in 7ms")
    assert a == b


def test_template_id_stable_and_depends_on_exception() -> None:
    t = "Order <*> failed"
    assert template_id_for(t, "x.Y", "a.b.C.m") == template_id_for(t, "x.Y", "a.b.C.m")
    assert template_id_for(t, "x.Y", "a.b.C.m") != template_id_for(t, "x.Z", "a.b.C.m")
    assert template_id_for(t, None, None) != template_id_for(t, "x.Y", None)
