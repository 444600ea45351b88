"""Personal data at rest (see docs/decisions/0002-personal-data-at-rest.md): the erase
command (``erasure``). The data keys and the sealing that the store applies are
infrastructure (``infrastructure.personal_data``).
"""
