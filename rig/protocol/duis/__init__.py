"""DUIS: the DCC User Interface Specification's XML messages (schema 5.4), their XML
signatures as DCC computes them, schema validation and Service Reference Variant rules."""
