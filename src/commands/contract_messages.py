"""Outgoing messages of the renewal pipeline (R41, R42, R46): the notice and the quotes
go to the contract's primary contact on file, the invoice to its billing contact on
file, an overdue renewal to whoever handles escalations for the organisation."""

from __future__ import annotations

from datetime import date
from typing import Any

from commands.messages import Outbox
from lifecycle.change import Change
from lifecycle.contract import Contract
from lifecycle.message import Message
from lifecycle.money import Money
from lifecycle.renewal import Renewal


def _money(m: Money) -> str:
    return f"{m.amount:.2f} {m.currency}"


def _days(d: date) -> str:
    return d.isoformat()


class ContractOutbox(Outbox):
    def _renewal_data(self, contract: Contract, renewal: Renewal) -> dict[str, Any]:
        return {
            "contract_id": str(contract.id),
            "contract_number": contract.number,
            "renewal_id": str(renewal.id),
            "term_number": renewal.term_number,
        }

    def renewal_notice(self, contract: Contract, renewal: Renewal, change: Change) -> Message:
        contact = contract.primary_contact
        return self._compose(
            "renewal_notice",
            contact.email,
            f"Contract {contract.number} comes up for renewal on "
            f"{_days(renewal.term_end_at.date())}",
            f"Dear {contact.name}, term {renewal.term_number} of contract {contract.number} "
            f"ends on {_days(renewal.end_date)}. We will be in touch by "
            f"{_days(renewal.contact_by)} to discuss its renewal. Notice of non-renewal or "
            f"of changes is accepted until {_days(renewal.notice_deadline)}.",
            {
                **self._renewal_data(contract, renewal),
                "end_date": _days(renewal.end_date),
                "opens_on": _days(renewal.opens_on),
                "contact_by": _days(renewal.contact_by),
                "notice_deadline": _days(renewal.notice_deadline),
                "licences": contract.licences,
            },
            renewal.id,
            change,
        )

    def renewal_overdue(
        self, recipient: str, contract: Contract, renewal: Renewal, change: Change
    ) -> Message:
        return self._compose(
            "renewal_overdue",
            recipient,
            f"Overdue: renewal of contract {contract.number} not contacted",
            f"The customer of contract {contract.number} had to be contacted about the "
            f"renewal of term {renewal.term_number} by {_days(renewal.contact_by)}; nobody "
            f"has been. The term ends on {_days(renewal.end_date)}.",
            {
                **self._renewal_data(contract, renewal),
                "organisation_id": str(contract.organisation_id),
                "contact_by": _days(renewal.contact_by),
                "end_date": _days(renewal.end_date),
                "owner_role": renewal.owner_role,
            },
            renewal.id,
            change,
        )

    def quote(
        self, contract: Contract, renewal: Renewal, quote: dict[str, Any], change: Change
    ) -> Message:
        contact = contract.primary_contact
        return self._compose(
            "quote",
            contact.email,
            f"Your renewal quote for contract {contract.number}",
            f"Dear {contact.name}, we propose to renew contract {contract.number} for "
            f"{quote['term_months']} months with {', '.join(quote['licences'])} at "
            f"{_money(quote['price'])}.",
            {
                **self._renewal_data(contract, renewal),
                "quote_id": str(quote["quote_id"]),
                "licences": list(quote["licences"]),
                "term_months": quote["term_months"],
                "price": quote["price"].as_dict(),
            },
            renewal.id,
            change,
        )

    def invoice(self, contract: Contract, renewal: Renewal, change: Change) -> Message:
        invoice = renewal.invoice
        assert invoice is not None
        contact = invoice["recipient"]
        return self._compose(
            "invoice",
            contact.email,
            f"Invoice for the renewal of contract {contract.number}",
            f"Dear {contact.name}, please find the invoice for term {invoice['term_number']} "
            f"of contract {contract.number}: {_money(invoice['amount'])}, due on "
            f"{_days(invoice['due_on'])}.",
            {
                **self._renewal_data(contract, renewal),
                "invoice_id": str(invoice["invoice_id"]),
                "amount": invoice["amount"].as_dict(),
                "issued_on": _days(invoice["issued_on"]),
                "due_on": _days(invoice["due_on"]),
                "renewed_term_number": invoice["term_number"],
            },
            renewal.id,
            change,
        )
