"""The ZigBee OTA Upgrade cluster (0x0019) and the ZigBee OTA file format.

Commands (ZCL, OTA Upgrade cluster; every field little-endian):

* Image Notify (0x00, server to client): payload type, query jitter, then as many of
  manufacturer code, image type and new file version as the payload type says;
* Query Next Image Request (0x01): field control (bit 0: hardware version present),
  manufacturer code, image type, current file version [, hardware version];
* Query Next Image Response (0x02): status; on SUCCESS manufacturer code, image type,
  file version and image size;
* Image Block Request (0x03): field control (bit 0: request node address present, bit 1:
  minimum block period present), manufacturer code, image type, file version, file
  offset, maximum data size [, request node address] [, minimum block period];
* Image Block Response (0x05): status; SUCCESS: manufacturer code, image type, file
  version, file offset, data size and the data; WAIT_FOR_DATA: current time, request
  time, minimum block period; ABORT: nothing more;
* Upgrade End Request (0x06): status, manufacturer code, image type, file version;
* Upgrade End Response (0x07): manufacturer code, image type, file version, current
  time, upgrade time.

The OTA file: a header (file identifier 0x0BEEF11E, header version 0x0100, header length,
field control, manufacturer code, image type, file version, stack version, 32-byte header
string, total image size, then the optional security credential version, upgrade file
destination and minimum/maximum hardware versions its field control announces) followed
by tagged sub-elements (tag u16, length u32, data).

Times are ZCL UTCTime (seconds since 2000-01-01); the minimum block period is in
milliseconds (OTA 1.1 onwards). Statuses are declared as zigpy declares its enums, frames
carry zigpy's ZCL header, as :mod:`rig.protocol.zigbee.zcl` builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Final, cast

import zigpy.types as t
from zigpy.zcl import foundation as f
from zigpy.zcl.clusters import general

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64

OTA_CLUSTER: Final = 0x0019
FILE_IDENTIFIER: Final = 0x0BEEF11E
HEADER_VERSION: Final = 0x0100
BASE_HEADER_LENGTH: Final = 56  # the header without its optional fields
HEADER_STRING_LENGTH: Final = 32
SUB_ELEMENT_HEADER: Final = 6  # tag (2) + length (4)
STACK_ZIGBEE_PRO: Final = 0x0002
UPGRADE_NOW: Final = 0x00000000  # Upgrade End Response: upgrade time 0 with current time 0
UPGRADE_WAIT: Final = 0xFFFFFFFF  # Upgrade End Response: wait for an upgrade command

# zigpy's declaration of the cluster: its attributes (current_file_version 0x0002,
# image_upgrade_status 0x0006, ...) and command schemas, which read the commands below
# byte for byte (tests/test_firmware_image.py checks it)
Ota: Final = general.Ota

# OTA header field control bits
HEADER_SECURITY_CREDENTIAL: Final = 0x0001
HEADER_DEVICE_SPECIFIC: Final = 0x0002
HEADER_HARDWARE_VERSIONS: Final = 0x0004


class OtaStatus(t.enum8):
    """The ZCL statuses the OTA Upgrade cluster uses."""

    SUCCESS = 0x00
    NOT_AUTHORIZED = 0x7E
    ABORT = 0x95
    INVALID_IMAGE = 0x96
    WAIT_FOR_DATA = 0x97
    NO_IMAGE_AVAILABLE = 0x98
    REQUIRE_MORE_IMAGE = 0x99


class Tag(IntEnum):
    """Sub-element tag identifiers of the OTA file (0x0000-0xEFFF are the CSA's)."""

    UPGRADE_IMAGE = 0x0000
    ECDSA_SIGNATURE_SUITE_1 = 0x0001
    ECDSA_SIGNING_CERTIFICATE_SUITE_1 = 0x0002
    IMAGE_INTEGRITY_CODE = 0x0003
    PICTURE_DATA = 0x0004
    ECDSA_SIGNATURE_SUITE_2 = 0x0005
    ECDSA_SIGNING_CERTIFICATE_SUITE_2 = 0x0006


# --- field helpers ---------------------------------------------------------------------


def _u(n: int, value: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * n):
        raise ValueError(f"{what} {value} does not fit in {8 * n} bits")
    return value.to_bytes(n, "little")


def _eui(addr: Eui64) -> bytes:
    return addr.raw[::-1]  # ZCL's IEEE addresses travel little-endian


def _read_eui(r: Reader, what: str) -> Eui64:
    return Eui64(r.take(8, what)[::-1])


def _status(r: Reader, allowed: tuple[OtaStatus, ...], what: str) -> OtaStatus:
    at = r.offset
    value = r.u8(f"the status of {what}")
    if value not in {int(s) for s in allowed}:
        names = ", ".join(s.name for s in allowed)
        raise DecodeError(f"{what} status 0x{value:02X} is none of {names}", at)
    return OtaStatus(value)


@dataclass(frozen=True, slots=True)
class ImageId:
    """What identifies an image in every command: manufacturer code, image type, version."""

    manufacturer_code: int
    image_type: int
    file_version: int

    def encode(self) -> bytes:
        return (
            _u(2, self.manufacturer_code, "manufacturer code")
            + _u(2, self.image_type, "image type")
            + _u(4, self.file_version, "file version")
        )

    @classmethod
    def read(cls, r: Reader) -> ImageId:
        return cls(r.le(2, "manufacturer code"), r.le(2, "image type"), r.le(4, "file version"))


# --- commands ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageNotify:
    """Server to client: a new image is available (broadcast or unicast)."""

    COMMAND_ID: ClassVar[int] = 0x00
    TO_SERVER: ClassVar[bool] = False

    query_jitter: int  # 1..100: a client answers if its random 1..100 is at most this
    manufacturer_code: int | None = None
    image_type: int | None = None
    new_file_version: int | None = None

    @property
    def payload_type(self) -> int:
        """0: jitter; 1: + manufacturer code; 2: + image type; 3: + new file version."""
        present = [
            v is not None for v in (self.manufacturer_code, self.image_type, self.new_file_version)
        ]
        count = sum(present)
        if present != [True] * count + [False] * (3 - count):
            raise ValueError(
                "Image Notify carries manufacturer code, image type and new file version in "
                "that order: give the earlier ones before a later one"
            )
        return count

    def encode(self) -> bytes:
        out = bytes([self.payload_type]) + _u(1, self.query_jitter, "query jitter")
        if self.manufacturer_code is not None:
            out += _u(2, self.manufacturer_code, "manufacturer code")
        if self.image_type is not None:
            out += _u(2, self.image_type, "image type")
        if self.new_file_version is not None:
            out += _u(4, self.new_file_version, "new file version")
        return out

    @classmethod
    def decode(cls, data: bytes) -> ImageNotify:
        r = Reader(data)
        at = r.offset
        payload_type = r.u8("payload type")
        if payload_type > 3:
            raise DecodeError(f"Image Notify payload type {payload_type} is not 0..3", at)
        jitter = r.u8("query jitter")
        mfr = r.le(2, "manufacturer code") if payload_type >= 1 else None
        image_type = r.le(2, "image type") if payload_type >= 2 else None
        version = r.le(4, "new file version") if payload_type >= 3 else None
        r.done("Image Notify")
        return cls(jitter, mfr, image_type, version)


@dataclass(frozen=True, slots=True)
class QueryNextImageRequest:
    """Client to server: is there an image newer than mine?"""

    COMMAND_ID: ClassVar[int] = 0x01
    TO_SERVER: ClassVar[bool] = True

    manufacturer_code: int
    image_type: int
    current_file_version: int
    hardware_version: int | None = None

    def encode(self) -> bytes:
        out = bytes([0x01 if self.hardware_version is not None else 0x00])
        out += ImageId(self.manufacturer_code, self.image_type, self.current_file_version).encode()
        if self.hardware_version is not None:
            out += _u(2, self.hardware_version, "hardware version")
        return out

    @classmethod
    def decode(cls, data: bytes) -> QueryNextImageRequest:
        r = Reader(data)
        control = r.u8("field control")
        image = ImageId.read(r)
        hardware = r.le(2, "hardware version") if control & 0x01 else None
        r.done("Query Next Image Request")
        return cls(image.manufacturer_code, image.image_type, image.file_version, hardware)


@dataclass(frozen=True, slots=True)
class QueryNextImageResponse:
    """Server to client: SUCCESS with the image to fetch, or NO_IMAGE_AVAILABLE / NOT_AUTHORIZED."""

    COMMAND_ID: ClassVar[int] = 0x02
    TO_SERVER: ClassVar[bool] = False
    STATUSES: ClassVar[tuple[OtaStatus, ...]] = (
        OtaStatus.SUCCESS,
        OtaStatus.NO_IMAGE_AVAILABLE,
        OtaStatus.NOT_AUTHORIZED,
    )

    status: OtaStatus
    image: ImageId | None = None  # on SUCCESS only
    image_size: int | None = None  # on SUCCESS only: the whole OTA file, header included

    def encode(self) -> bytes:
        if self.status not in self.STATUSES:
            raise ValueError(f"Query Next Image Response does not carry {self.status.name}")
        success = self.status is OtaStatus.SUCCESS
        if success != (self.image is not None and self.image_size is not None):
            raise ValueError("Query Next Image Response has an image and its size on SUCCESS only")
        out = bytes([self.status])
        if self.image is not None and self.image_size is not None:
            out += self.image.encode() + _u(4, self.image_size, "image size")
        return out

    @classmethod
    def decode(cls, data: bytes) -> QueryNextImageResponse:
        r = Reader(data)
        status = _status(r, cls.STATUSES, "Query Next Image Response")
        if status is not OtaStatus.SUCCESS:
            r.done(f"a {status.name} Query Next Image Response")
            return cls(status)
        image = ImageId.read(r)
        size = r.le(4, "image size")
        r.done("Query Next Image Response")
        return cls(status, image, size)


@dataclass(frozen=True, slots=True)
class ImageBlockRequest:
    """Client to server: up to ``max_data_size`` bytes of the image from ``file_offset``."""

    COMMAND_ID: ClassVar[int] = 0x03
    TO_SERVER: ClassVar[bool] = True

    image: ImageId
    file_offset: int
    max_data_size: int
    request_node: Eui64 | None = None
    min_block_period: int | None = None  # milliseconds

    def encode(self) -> bytes:
        control = (self.request_node is not None) | ((self.min_block_period is not None) << 1)
        out = bytes([control]) + self.image.encode()
        out += _u(4, self.file_offset, "file offset") + _u(1, self.max_data_size, "max data size")
        if self.request_node is not None:
            out += _eui(self.request_node)
        if self.min_block_period is not None:
            out += _u(2, self.min_block_period, "minimum block period")
        return out

    @classmethod
    def decode(cls, data: bytes) -> ImageBlockRequest:
        r = Reader(data)
        control = r.u8("field control")
        image = ImageId.read(r)
        offset = r.le(4, "file offset")
        size = r.u8("maximum data size")
        node = _read_eui(r, "request node address") if control & 0x01 else None
        period = r.le(2, "minimum block period") if control & 0x02 else None
        r.done("Image Block Request")
        return cls(image, offset, size, node, period)


@dataclass(frozen=True, slots=True)
class ImageBlockResponse:
    """Server to client: a block (SUCCESS), "ask again later" (WAIT_FOR_DATA) or ABORT.
    Build one with :meth:`block`, :meth:`wait` or :meth:`abort`."""

    COMMAND_ID: ClassVar[int] = 0x05
    TO_SERVER: ClassVar[bool] = False
    STATUSES: ClassVar[tuple[OtaStatus, ...]] = (
        OtaStatus.SUCCESS,
        OtaStatus.WAIT_FOR_DATA,
        OtaStatus.ABORT,
    )

    status: OtaStatus
    image: ImageId | None = None  # SUCCESS
    file_offset: int | None = None  # SUCCESS
    data: bytes = b""  # SUCCESS
    current_time: int | None = None  # WAIT_FOR_DATA (UTCTime)
    request_time: int | None = None  # WAIT_FOR_DATA (UTCTime): ask again then
    min_block_period: int | None = None  # WAIT_FOR_DATA (milliseconds)

    @classmethod
    def block(cls, image: ImageId, file_offset: int, data: bytes) -> ImageBlockResponse:
        return cls(OtaStatus.SUCCESS, image, file_offset, data)

    @classmethod
    def wait(
        cls, current_time: int, request_time: int, min_block_period: int = 0
    ) -> ImageBlockResponse:
        return cls(
            OtaStatus.WAIT_FOR_DATA,
            current_time=current_time,
            request_time=request_time,
            min_block_period=min_block_period,
        )

    @classmethod
    def abort(cls) -> ImageBlockResponse:
        return cls(OtaStatus.ABORT)

    def encode(self) -> bytes:
        out = bytes([self.status])
        if self.status is OtaStatus.SUCCESS:
            if self.image is None or self.file_offset is None:
                raise ValueError("a SUCCESS Image Block Response needs the image and the offset")
            return (
                out
                + self.image.encode()
                + _u(4, self.file_offset, "file offset")
                + _u(1, len(self.data), "data size")
                + self.data
            )
        if self.status is OtaStatus.WAIT_FOR_DATA:
            if self.current_time is None or self.request_time is None:
                raise ValueError("a WAIT_FOR_DATA Image Block Response needs the two times")
            return (
                out
                + _u(4, self.current_time, "current time")
                + _u(4, self.request_time, "request time")
                + _u(2, self.min_block_period or 0, "minimum block period")
            )
        if self.status is OtaStatus.ABORT:
            return out
        raise ValueError(f"Image Block Response does not carry {self.status.name}")

    @classmethod
    def decode(cls, data: bytes) -> ImageBlockResponse:
        r = Reader(data)
        status = _status(r, cls.STATUSES, "Image Block Response")
        if status is OtaStatus.SUCCESS:
            image = ImageId.read(r)
            offset = r.le(4, "file offset")
            size = r.u8("data size")
            block = r.take(size, "image data")
            r.done("Image Block Response")
            return cls.block(image, offset, block)
        if status is OtaStatus.WAIT_FOR_DATA:
            now, then = r.le(4, "current time"), r.le(4, "request time")
            period = r.le(2, "minimum block period")
            r.done("Image Block Response")
            return cls.wait(now, then, period)
        r.done("an ABORT Image Block Response")
        return cls.abort()


@dataclass(frozen=True, slots=True)
class UpgradeEndRequest:
    """Client to server: the download ended (SUCCESS: image verified; or why not)."""

    COMMAND_ID: ClassVar[int] = 0x06
    TO_SERVER: ClassVar[bool] = True
    STATUSES: ClassVar[tuple[OtaStatus, ...]] = (
        OtaStatus.SUCCESS,
        OtaStatus.INVALID_IMAGE,
        OtaStatus.REQUIRE_MORE_IMAGE,
        OtaStatus.ABORT,
    )

    status: OtaStatus
    image: ImageId

    def encode(self) -> bytes:
        if self.status not in self.STATUSES:
            raise ValueError(f"Upgrade End Request does not carry {self.status.name}")
        return bytes([self.status]) + self.image.encode()

    @classmethod
    def decode(cls, data: bytes) -> UpgradeEndRequest:
        r = Reader(data)
        status = _status(r, cls.STATUSES, "Upgrade End Request")
        image = ImageId.read(r)
        r.done("Upgrade End Request")
        return cls(status, image)


@dataclass(frozen=True, slots=True)
class UpgradeEndResponse:
    """Server to client: when to switch to the new image (``upgrade_time``, UTCTime;
    :data:`UPGRADE_WAIT`: wait for an upgrade command)."""

    COMMAND_ID: ClassVar[int] = 0x07
    TO_SERVER: ClassVar[bool] = False

    image: ImageId
    current_time: int
    upgrade_time: int

    def encode(self) -> bytes:
        return (
            self.image.encode()
            + _u(4, self.current_time, "current time")
            + _u(4, self.upgrade_time, "upgrade time")
        )

    @classmethod
    def decode(cls, data: bytes) -> UpgradeEndResponse:
        r = Reader(data)
        image = ImageId.read(r)
        now, then = r.le(4, "current time"), r.le(4, "upgrade time")
        r.done("Upgrade End Response")
        return cls(image, now, then)


OtaCommand = (
    ImageNotify
    | QueryNextImageRequest
    | QueryNextImageResponse
    | ImageBlockRequest
    | ImageBlockResponse
    | UpgradeEndRequest
    | UpgradeEndResponse
)
COMMANDS: Final[tuple[type[OtaCommand], ...]] = (
    ImageNotify,
    QueryNextImageRequest,
    QueryNextImageResponse,
    ImageBlockRequest,
    ImageBlockResponse,
    UpgradeEndRequest,
    UpgradeEndResponse,
)

_BY_ID: Final = {(c.COMMAND_ID, c.TO_SERVER): c for c in COMMANDS}


def decode_command(command_id: int, to_server: bool, payload: bytes) -> OtaCommand:
    """The command ``command_id`` sent to the server (``to_server``) or to the client."""
    cls = _BY_ID.get((command_id, to_server))
    if cls is not None:
        return cls.decode(payload)
    side = "client to server" if to_server else "server to client"
    raise DecodeError(f"the OTA Upgrade cluster has no {side} command 0x{command_id:02X}", 0)


@dataclass(frozen=True, slots=True)
class OtaFrame:
    header: f.ZCLHeader
    command: OtaCommand

    @property
    def tsn(self) -> int:
        return int(self.header.tsn)


def encode_frame(command: OtaCommand, tsn: int, *, default_response: bool = False) -> bytes:
    """A ZCL frame of the OTA Upgrade cluster (cluster-specific, direction from the command;
    ``default_response``: leave "disable default response" clear)."""
    direction = f.Direction.Client_to_Server if command.TO_SERVER else f.Direction.Server_to_Client
    header = f.ZCLHeader.cluster(tsn, command.COMMAND_ID, direction=direction)
    replace = cast(Callable[..., f.FrameControl], header.frame_control.replace)
    header.frame_control = replace(disable_default_response=not default_response)
    return header.serialize() + command.encode()


def decode_frame(data: bytes) -> OtaFrame:
    """A ZCL frame carrying an OTA Upgrade cluster command."""
    try:
        header, rest = f.ZCLHeader.deserialize(data)
    except (ValueError, KeyError) as exc:
        raise DecodeError(f"ZCL header: {exc}", 0) from None
    at = len(data) - len(rest)
    if header.frame_control.is_general:
        raise DecodeError("a general ZCL command, not an OTA Upgrade cluster command", 0)
    to_server = header.direction is f.Direction.Client_to_Server
    try:
        command = decode_command(int(header.command_id), to_server, rest)
    except DecodeError as exc:
        raise DecodeError(exc.reason, at + exc.offset) from None
    return OtaFrame(header, command)


# --- the OTA file ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtaHeader:
    """The OTA file header; its length and the total image size are computed on encoding."""

    manufacturer_code: int
    image_type: int
    file_version: int
    header_string: str = ""  # at most 32 bytes of UTF-8, padded with NULs
    stack_version: int = STACK_ZIGBEE_PRO
    security_credential_version: int | None = None
    upgrade_file_destination: Eui64 | None = None
    hardware_versions: tuple[int, int] | None = None  # minimum, maximum

    @property
    def field_control(self) -> int:
        return (
            (HEADER_SECURITY_CREDENTIAL if self.security_credential_version is not None else 0)
            | (HEADER_DEVICE_SPECIFIC if self.upgrade_file_destination is not None else 0)
            | (HEADER_HARDWARE_VERSIONS if self.hardware_versions is not None else 0)
        )

    @property
    def length(self) -> int:
        return _header_length(self.field_control)

    @property
    def image(self) -> ImageId:
        return ImageId(self.manufacturer_code, self.image_type, self.file_version)

    def encode(self, total_image_size: int) -> bytes:
        text = self.header_string.encode()
        if len(text) > HEADER_STRING_LENGTH:
            raise ValueError(
                f"the OTA header string is at most {HEADER_STRING_LENGTH} bytes, "
                f"not {len(text)}: shorten {self.header_string!r}"
            )
        out = (
            _u(4, FILE_IDENTIFIER, "file identifier")
            + _u(2, HEADER_VERSION, "header version")
            + _u(2, self.length, "header length")
            + _u(2, self.field_control, "header field control")
            + self.image.encode()
            + _u(2, self.stack_version, "stack version")
            + text.ljust(HEADER_STRING_LENGTH, b"\x00")
            + _u(4, total_image_size, "total image size")
        )
        if self.security_credential_version is not None:
            out += _u(1, self.security_credential_version, "security credential version")
        if self.upgrade_file_destination is not None:
            out += _eui(self.upgrade_file_destination)
        if self.hardware_versions is not None:
            low, high = self.hardware_versions
            out += _u(2, low, "minimum hardware version") + _u(2, high, "maximum hardware version")
        return out


def _header_length(field_control: int) -> int:
    return (
        BASE_HEADER_LENGTH
        + (1 if field_control & HEADER_SECURITY_CREDENTIAL else 0)
        + (8 if field_control & HEADER_DEVICE_SPECIFIC else 0)
        + (4 if field_control & HEADER_HARDWARE_VERSIONS else 0)
    )


@dataclass(frozen=True, slots=True)
class SubElement:
    tag: int
    data: bytes
    offset: int = field(default=0, compare=False)  # where it starts in the file (decoded)

    @property
    def name(self) -> str:
        return Tag(self.tag).name if self.tag in Tag._value2member_map_ else f"0x{self.tag:04X}"

    def encode(self) -> bytes:
        return _u(2, self.tag, "tag") + _u(4, len(self.data), "sub-element length") + self.data


@dataclass(frozen=True, slots=True)
class OtaFile:
    header: OtaHeader
    elements: tuple[SubElement, ...]

    def encode(self) -> bytes:
        body = b"".join(e.encode() for e in self.elements)
        return self.header.encode(self.header.length + len(body)) + body

    def element(self, tag: int) -> SubElement | None:
        return next((e for e in self.elements if e.tag == tag), None)

    @classmethod
    def decode(cls, data: bytes) -> OtaFile:
        r = Reader(data)
        at = r.offset
        ident = r.le(4, "OTA file identifier")
        if ident != FILE_IDENTIFIER:
            raise DecodeError(
                f"not a ZigBee OTA file: the file identifier is 0x{ident:08X}, "
                f"expected 0x{FILE_IDENTIFIER:08X}",
                at,
            )
        at = r.offset
        version = r.le(2, "OTA header version")
        if version != HEADER_VERSION:
            raise DecodeError(
                f"OTA header version 0x{version:04X} is not supported "
                f"(only 0x{HEADER_VERSION:04X})",
                at,
            )
        length_at = r.offset
        length = r.le(2, "OTA header length")
        control_at = r.offset
        control = r.le(2, "OTA header field control")
        known = HEADER_SECURITY_CREDENTIAL | HEADER_DEVICE_SPECIFIC | HEADER_HARDWARE_VERSIONS
        if control & ~known:
            raise DecodeError(
                f"OTA header field control 0x{control:04X} sets reserved bits "
                f"0x{control & ~known:04X}",
                control_at,
            )
        expected = _header_length(control)
        if length != expected:
            raise DecodeError(
                f"the OTA header length says {length} bytes but its field control "
                f"0x{control:04X} makes it {expected}",
                length_at,
            )
        image = ImageId.read(r)
        stack = r.le(2, "stack version")
        text = r.take(HEADER_STRING_LENGTH, "header string").rstrip(b"\x00")
        size_at = r.offset
        total = r.le(4, "total image size")
        if total != len(data):
            raise DecodeError(
                f"the OTA header says the image is {total} bytes but the file has {len(data)}",
                size_at,
            )
        credential = (
            r.u8("security credential version") if control & HEADER_SECURITY_CREDENTIAL else None
        )
        destination = (
            _read_eui(r, "upgrade file destination") if control & HEADER_DEVICE_SPECIFIC else None
        )
        hardware = (
            (r.le(2, "minimum hardware version"), r.le(2, "maximum hardware version"))
            if control & HEADER_HARDWARE_VERSIONS
            else None
        )
        header = OtaHeader(
            image.manufacturer_code,
            image.image_type,
            image.file_version,
            text.decode("utf-8", "replace"),
            stack,
            credential,
            destination,
            hardware,
        )
        elements: list[SubElement] = []
        while not r.at_end():
            start = r.offset
            n = len(elements) + 1
            tag = r.le(2, f"the tag of sub-element {n}")
            name = Tag(tag).name if tag in Tag._value2member_map_ else f"0x{tag:04X}"
            size = r.le(4, f"the length of sub-element {n} ({name})")
            body = r.sub(size, f"sub-element {n} ({name})")
            elements.append(SubElement(tag, body.rest(), start))
        return cls(header, tuple(elements))


__all__ = [
    "COMMANDS",
    "FILE_IDENTIFIER",
    "OTA_CLUSTER",
    "ImageBlockRequest",
    "ImageBlockResponse",
    "ImageId",
    "ImageNotify",
    "Ota",
    "OtaCommand",
    "OtaFile",
    "OtaFrame",
    "OtaHeader",
    "OtaStatus",
    "QueryNextImageRequest",
    "QueryNextImageResponse",
    "SubElement",
    "Tag",
    "UpgradeEndRequest",
    "UpgradeEndResponse",
    "decode_command",
    "decode_frame",
    "encode_frame",
]
