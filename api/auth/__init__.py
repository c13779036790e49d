"""Bearer-token access control: who is calling (:mod:`api.auth.tokens`) and what each
role may do (:mod:`api.auth.policy`)."""
