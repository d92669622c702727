"""The symbol lifecycle: pure transition rules (``rules``) and their application to the database (``store``)."""
