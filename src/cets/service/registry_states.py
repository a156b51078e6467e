"""Account states (DOMAIN.md, "Accounts"): restrict, unrestrict, freeze and unfreeze a whole
account, begin closure, close. What each state blocks is in `registry_base`; which state may
change to which is `STATE_CHANGES`. Closing needs every account empty and nothing pending
(`account_not_empty`)."""

from __future__ import annotations

from cets.domain.errors import DomainError, RejectCode
from cets.domain.registry.holders import REGISTRY, HolderState
from cets.service.ports import Command, CommandResult, UnitOfWork
from cets.service.registry_base import RegistryBase

_S = HolderState
# Account state changes: operation -> (the states it may start from, the state it leaves).
STATE_CHANGES: dict[str, tuple[frozenset[str], HolderState]] = {
    "restrict": (frozenset({_S.normal}), _S.restricted),
    "unrestrict": (frozenset({_S.restricted}), _S.normal),
    "freeze_account": (frozenset({_S.normal, _S.restricted}), _S.frozen),
    "unfreeze_account": (frozenset({_S.frozen}), _S.normal),
    "begin_closure": (frozenset({_S.normal, _S.restricted}), _S.closure_pending),
    "close_account": (frozenset(set(_S) - {_S.closed}), _S.closed),
}


class AccountStates(RegistryBase):
    """The state changes of a holder's accounts, as use cases."""

    # -- account states ----------------------------------------------------------------------

    def restrict(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        """Restrict: the holder can no longer move units or money out (see `registry_base`)."""
        return self._set_state(cmd_id, "restrict", holder, actor)

    def unrestrict(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        return self._set_state(cmd_id, "unrestrict", holder, actor)

    def freeze_account(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        """A judicial freeze of the whole account: nothing may leave it until it is unfrozen."""
        return self._set_state(cmd_id, "freeze_account", holder, actor)

    def unfreeze_account(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        return self._set_state(cmd_id, "unfreeze_account", holder, actor)

    def begin_closure(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        """Closure pending: nothing more may come in, so the account can be emptied and closed."""
        return self._set_state(cmd_id, "begin_closure", holder, actor)

    def close_account(self, cmd_id: str, holder: str, *, actor: str = REGISTRY) -> CommandResult:
        """Close: only with every account empty and nothing pending (`account_not_empty`)."""
        return self._set_state(cmd_id, "close_account", holder, actor)

    def _set_state(self, cmd_id: str, kind: str, holder: str, actor: str) -> CommandResult:
        body = {"id": cmd_id, "account": holder}
        allowed_from, state = STATE_CHANGES[kind]

        def build(uow: UnitOfWork, now: int) -> Command:
            current = self._holder(uow, holder, field="account").state
            if current not in allowed_from:
                raise DomainError(
                    RejectCode.account_state_does_not_allow,
                    f"{kind} needs account {holder!r} to be "
                    f"{' or '.join(sorted(allowed_from))}; it is {current}",
                    field="account",
                )
            if state == HolderState.closed:
                busy = [
                    a
                    for a in uow.holder_accounts(holder)
                    if a.balance or a.debits_pending or a.credits_pending
                ]
                if busy:
                    held = ", ".join(f"{a.asset} {a.balance}" for a in busy)
                    raise DomainError(
                        RejectCode.account_not_empty,
                        f"account {holder!r} still holds or has pending: {held}",
                        field="account",
                    )
            uow.set_holder_state(holder, state)
            return Command(kind, actor, body)

        return self._run(cmd_id, kind, body, build)
