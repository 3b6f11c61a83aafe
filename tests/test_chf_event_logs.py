"""The CHF's event and security logs (6.13, issue 17): ECS35c and ECS35d from DCC's templates
are RTDS 4.5.0's commands (the ACB originating them for the DCC User, its MAC included); the
CHF (in-process) answers RTDS's ECS35d byte for byte from a security log holding RTDS's
entries, and ECS35c in RTDS's structure (the rig records no event detail); the alerts it
raises are logged (CS14's 0x8F12 in its security log, as RTDS's CHF has it), kept across a
restart, and read back by the DCC User.
"""

from __future__ import annotations

import datetime as dt

from gateway.transform import TransformInput, transform_for
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_event_logs import ECS35C, ECS35D
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party
from tests.test_chf_device_log import A1, ACB, CHF, SUPPLIER, Hub, _rtds, _template, store  # noqa: F401

ECS35C_RTDS, ECS35D_RTDS = "6.13_ECS35c/ECS35c_6.13_SUCCESS", "6.13_ECS35d/ECS35d_6.13_SUCCESS"


def _command(template: str, counter: int, period: tuple[str, str] | None = None) -> GbcsMessage:
    """The DCC's command for DCC's template (its ReadLogPeriod replaced by ``period``), as
    the ACB originates it for the DCC User."""
    request = _template(template)
    if period is not None:
        for name, value in zip(("StartDateTime", "EndDateTime"), period, strict=True):
            (element,) = request.body.xpath(f".//*[local-name()='{name}']")
            element.text = value
    fn = transform_for(ECS35C)
    assert fn is not None
    ours = fn(ECS35C, TransformInput(request, counter, SUPPLIER, CHF))
    return for_unknown_remote_party(ours, ACB.raw, counter, request.request_id.counter, None)


def _entries(name: str) -> list[tuple[int, int]]:
    answer = dlms.decode(_rtds(f"{name}_RESPONSE").payload)
    assert isinstance(answer, dlms.AccessResponse)
    return [(int(e.value[0].value), int(e.value[1].value)) for e in answer.data[0].value.elements()]


def test_ecs35c_and_d_are_rtdss_commands_for_the_chf() -> None:
    assert CATALOGUE.for_srv("6.13", "CHF") is ECS35C
    for template, rtds, uc in (
        ("ECS35c_6.13_SUCCESS", ECS35C_RTDS, ECS35C),
        ("ECS35d_6.13_SUCCESS", ECS35D_RTDS, ECS35D),
    ):
        expected = _rtds(f"{rtds}_COMMAND")
        ours = _command(template, expected.header.counter)
        assert ours.without_mac().encode() == expected.without_mac().encode()
        assert check_command(expected, CATALOGUE) is uc
    assert ECS35C.acb_originated and ECS35D.acb_originated


def test_the_chf_answers_rtdss_ecs35d_byte_for_byte_and_ecs35c_in_its_structure(
    tmp_path, store
) -> None:
    hub = Hub(tmp_path, store, (A1,))
    hub.node.event_logs.logs["Security"] = [(473_200_000, 0x8F3D), *_entries(ECS35D_RTDS)]
    (answer,) = hub.ask(_rtds(f"{ECS35D_RTDS}_COMMAND"))
    assert answer.without_mac().encode() == _rtds(f"{ECS35D_RTDS}_RESPONSE").without_mac().encode()
    out = hub.read(answer)
    assert (out["use_case"], out["authenticated_by"], out["log"]) == ("ECS35d", "acb", "Security")
    assert out["events"][0]["alert_code"] == "8F12" and len(out["events"]) == 13

    events = _entries(ECS35C_RTDS)
    (tmp_path / "c").mkdir()
    hub = Hub(tmp_path / "c", store, (A1,))  # RTDS's ECS35c has ECS35d's counter: another hub
    hub.node.event_logs.logs["Event"] = events
    (answer,) = hub.ask(_rtds(f"{ECS35C_RTDS}_COMMAND"))
    rtds = _rtds(f"{ECS35C_RTDS}_RESPONSE")
    ours, theirs = (dlms.decode(m.payload) for m in (answer, rtds))
    assert isinstance(ours, dlms.AccessResponse) and isinstance(theirs, dlms.AccessResponse)
    assert answer.header.message_code == rtds.header.message_code
    assert ours.results == theirs.results
    assert ours.data[0].value.description == theirs.data[0].value.description
    rows = [[d.value for d in e.value[:2]] for e in ours.data[0].value.elements()]
    assert rows == [list(e) for e in events]


def test_the_chf_logs_the_cs14_it_raises_and_keeps_it(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A1,))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _answer, alert = hub.ask(_rtds("8.11_CCS01/CCS01_8.11_SUCCESS_COMMAND"))  # A0 added
    assert hub.read(alert)["alert_code"] == "8F12"
    (entry,) = hub.node.event_logs.logs["Security"]
    assert entry[1] == 0x8F12
    assert entry[0] >= int(before.timestamp()) - cosem.GBCS_EPOCH_UNIX
    assert hub.node.event_logs.logs["Event"] == []
    again = Hub(tmp_path, store, (A1,))  # the hub restarted: its log kept
    period = (
        (before - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (before + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    (answer,) = again.ask(_command("ECS35d_6.13_SUCCESS", 2000, period))
    out = again.read(answer)
    assert out["result"] == 0 and [e["alert_code"] for e in out["events"]] == ["8F12"]
    (answer,) = again.ask(_command("ECS35c_6.13_SUCCESS", 2001, period))
    assert again.read(answer)["events"] == []  # nothing in its event log
