def pytest_collection_modifyitems(items):
    """schemathesis names each operation's test (`test_no_input_makes_the_api_fail[GET
    /api/feed]`) but gives all 77 the function's node id, and pytest-xdist schedules by node
    id: it ran one of the 77. Each gets a node id of its own from its name, as pytest's own
    parametrize gives (pytest 9 keeps it in `Node._id`; an upgrade that moves it fails here)."""
    for item in items:
        if type(item).__name__ == "SchemathesisFunction" and item.name != item.nodeid.rpartition("::")[2]:
            item._id = item.parent.id.child(item.name)
