"""What the API answers, per resource (``…Public``): the OpenAPI documents these, and
clients may rely on them. Request schemas (``…In``) sit beside them."""
