"""Thin routers: parse, call one handler, show the result. Rules live in the domain."""
