"""Personal data at rest (see docs/decisions/0002-personal-data-at-rest.md).

- ``keys``: one data key per owner of personal data (an organisation, or a new buyer's
  purchase until it completes into one), kept in ``personal_data_keys``, wrapped by the
  master key when one is set; erasure deletes them for good.
- ``sealing``: how the store writes and reads the values the domain marks
  ``lifecycle.personal.Personal`` (sealed with the owner's data key), and the optional
  whole-event cipher.

The erase command is a use case: ``commands.personal_data.erasure``.
"""
