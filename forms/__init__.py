"""WTForms classes, one module per blueprint."""
