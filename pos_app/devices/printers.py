"""Receipt printer transports: one small interface over python-escpos's printer classes.

::

    with open_printer("tcp://192.168.1.50:9100") as printer:
        printer.send(render(receipt, profile))

URIs:

=============================================  =========================================
``tcp://host[:port]``                          raw TCP, port 9100 by default
                                               (``?timeout=`` seconds)
``usb://0x0416:0x5011``                        USB vendor:product (``?in_ep=0x82&out_ep=0x01
                                               &timeout=``); needs ``pyusb``
``serial:///dev/ttyUSB0?baudrate=9600``        serial port (``bytesize parity stopbits
                                               xonxoff dsrdtr timeout``); needs ``pyserial``
``file:///dev/usb/lp0``                        a device file (or a plain file)
``preview://``                                 no printer: bytes are kept in memory
=============================================  =========================================

Every URI also takes ``?status=off`` to skip the status check before a job.

:meth:`Printer.send` writes raw bytes through the python-escpos object's ``_raw``. Where
the transport can read (TCP, USB, serial), it first asks the printer for its status
with ``DLE EOT`` and refuses to send into a printer that reports paper out, an open
cover or offline; a printer that does not answer is assumed fine (many cheap ones
never answer), and is not asked again on that connection. Every failure is a
:class:`PrinterError` whose :attr:`~PrinterError.kind` tells the UI what to say.

Nothing here is global: a :class:`Printer` is one connection, used from one thread.
"""

from __future__ import annotations

import enum
import functools
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from escpos.exceptions import DeviceNotFoundError

from pos_app.devices.escpos_render import drawer_kick_command

Scheme = Literal["tcp", "usb", "serial", "file", "preview"]
PaperState = Literal["ok", "near_end", "out", "unknown"]

DEFAULT_TCP_PORT: Final = 9100
DLE_EOT: Final = b"\x10\x04"

_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "tcp": frozenset({"timeout", "status"}),
    "usb": frozenset({"in_ep", "out_ep", "timeout", "status"}),
    "serial": frozenset(
        {"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "dsrdtr", "timeout", "status"}
    ),
    "file": frozenset({"status"}),
    "preview": frozenset({"status"}),
}


class PrinterErrorKind(enum.StrEnum):
    """Why printing failed."""

    BAD_URI = "bad_uri"
    """The printer URI cannot be understood."""
    UNSUPPORTED = "unsupported"
    """The transport's driver library (pyusb, pyserial) is not installed."""
    OFFLINE = "offline"
    """Cannot reach the printer, or it reports itself offline."""
    TIMEOUT = "timeout"
    """The printer did not respond in time."""
    PAPER_OUT = "paper_out"
    """The printer reports that the paper roll is empty."""
    COVER_OPEN = "cover_open"
    """The printer reports that its cover is open."""
    IO = "io"
    """Any other failure while talking to the printer."""


class PrinterError(Exception):
    """Printing failed.

    Attributes:
        kind: What went wrong, for the UI to pick a message.
        uri: The printer's URI.
    """

    def __init__(self, kind: PrinterErrorKind, message: str, *, uri: str = "") -> None:
        self.kind = kind
        self.uri = uri
        super().__init__(f"{uri}: {message}" if uri else message)


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reported through ``DLE EOT``.

    Attributes:
        online: False when the printer is offline; None when it did not say.
        paper: Paper roll state.
        cover_open: True when the cover is open; None when it did not say.
    """

    online: bool | None = None
    paper: PaperState = "unknown"
    cover_open: bool | None = None

    @property
    def known(self) -> bool:
        """Whether the printer answered at all."""
        return self.online is not None

    @property
    def ready(self) -> bool:
        """Whether nothing the printer reported stops a job (unknown counts as ready)."""
        return self.online is not False and self.paper != "out" and not self.cover_open


UNKNOWN_STATUS: Final = PrinterStatus()


@dataclass(frozen=True, slots=True)
class PrinterTarget:
    """A parsed printer URI.

    Attributes:
        scheme: Transport.
        host: TCP host.
        port: TCP port.
        vendor_id: USB vendor id.
        product_id: USB product id.
        path: Serial port or file path.
        options: Query options (``timeout``, ``baudrate``, ...), as text.
    """

    scheme: Scheme
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    vendor_id: int = 0
    product_id: int = 0
    path: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    def option_int(self, name: str, default: int) -> int:
        """An integer option (decimal or ``0x`` hex)."""
        value = self.options.get(name)
        return default if value is None else int(value, 0)

    def option_float(self, name: str, default: float) -> float:
        """A number option."""
        value = self.options.get(name)
        return default if value is None else float(value)

    def option_bool(self, name: str, default: bool) -> bool:
        """A yes/no option (``1/0``, ``on/off``, ``true/false``, ``yes/no``)."""
        value = self.options.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "on", "true", "yes"):
            return True
        if lowered in ("0", "off", "false", "no"):
            return False
        raise ValueError(f"{name} must be on or off, not {value!r}")


def parse_printer_uri(uri: str) -> PrinterTarget:
    """Parse a printer URI.

    Args:
        uri: ``tcp://``, ``usb://``, ``serial://``, ``file://`` or ``preview://`` URI.

    Returns:
        The target.

    Raises:
        PrinterError: ``BAD_URI`` for an unknown scheme, a missing host/device/path, a
            malformed number or an unknown option.
    """
    try:
        return _parse(uri)
    except (ValueError, TypeError) as exc:
        raise PrinterError(PrinterErrorKind.BAD_URI, str(exc), uri=uri) from None


def _parse(uri: str) -> PrinterTarget:
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme not in _OPTIONS:
        raise ValueError(f"unknown printer scheme {parts.scheme!r}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - _OPTIONS[scheme]
    if unknown:
        raise ValueError(f"unknown option(s) for {scheme}: {', '.join(sorted(unknown))}")
    target: PrinterTarget
    if scheme == "tcp":
        if not parts.hostname:
            raise ValueError("tcp:// needs a host")
        target = PrinterTarget("tcp", host=parts.hostname, port=parts.port or DEFAULT_TCP_PORT)
    elif scheme == "usb":
        vendor, sep, product = parts.netloc.partition(":")
        if not sep or not vendor or not product:
            raise ValueError("usb:// needs vendor:product, e.g. usb://0x0416:0x5011")
        target = PrinterTarget("usb", vendor_id=int(vendor, 0), product_id=int(product, 0))
    elif scheme in ("serial", "file"):
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"{scheme}:// needs a device or file path")
        target = PrinterTarget(scheme, path=path)  # type: ignore[arg-type]
    else:
        target = PrinterTarget("preview")
    target = PrinterTarget(
        target.scheme,
        target.host,
        target.port,
        target.vendor_id,
        target.product_id,
        target.path,
        options,
    )
    # Validate typed options now, not halfway through a print job.
    for name in ("in_ep", "out_ep", "baudrate", "bytesize", "stopbits"):
        target.option_int(name, 0)
    target.option_float("timeout", 0.0)
    for name in ("xonxoff", "dsrdtr", "status"):
        target.option_bool(name, False)
    return target


class Printer:
    """One open connection to a receipt printer.

    Use it as a context manager, or call :meth:`close`. Not thread-safe: one print
    worker owns it.

    Attributes:
        uri: The printer URI it was opened with.
        target: The parsed URI.
    """

    def __init__(
        self,
        uri: str,
        target: PrinterTarget,
        device: Any,
        *,
        check_status: bool,
        status_timeout: float,
    ) -> None:
        """Wrap an opened python-escpos printer object (see :func:`open_printer`)."""
        self.uri = uri
        self.target = target
        self._device = device
        self._check_status = check_status
        self._status_timeout = status_timeout
        self._answers_status: bool | None = None
        self._closed = False

    # --- context manager

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- API

    @property
    def can_read_status(self) -> bool:
        """Whether the transport can read the printer's answers (TCP, USB, serial)."""
        return self.target.scheme in ("tcp", "usb", "serial")

    def send(self, data: bytes) -> None:
        """Send one job's raw bytes.

        Args:
            data: ESC/POS bytes, e.g. from :func:`~pos_app.devices.escpos_render.render`.

        Raises:
            PrinterError: the printer reports paper out, an open cover or offline (then
                nothing was sent), or the transport failed.
        """
        self._ensure_open()
        if self._check_status and self.can_read_status and self._answers_status is not False:
            status = self.status()
            if status.paper == "out":
                raise PrinterError(PrinterErrorKind.PAPER_OUT, "paper out", uri=self.uri)
            if status.cover_open:
                raise PrinterError(PrinterErrorKind.COVER_OPEN, "cover open", uri=self.uri)
            if status.online is False:
                raise PrinterError(PrinterErrorKind.OFFLINE, "printer offline", uri=self.uri)
        self._write(data)

    def kick_drawer(self, pin: Literal[2, 5] = 2) -> None:
        """Open the cash drawer connected to the printer (``ESC p``).

        Args:
            pin: Drawer connector pin.

        Raises:
            PrinterError: the transport failed.
        """
        self._ensure_open()
        self._write(drawer_kick_command(pin))

    def status(self) -> PrinterStatus:
        """Ask the printer for its status (``DLE EOT`` 1, 2 and 4).

        Returns:
            What the printer reported; :data:`UNKNOWN_STATUS` when the transport cannot
            read or the printer does not answer.

        Raises:
            PrinterError: the transport failed while asking.
        """
        self._ensure_open()
        if not self.can_read_status or self._answers_status is False:
            return UNKNOWN_STATUS
        printer = self._query(1)
        if printer is None:
            self._answers_status = False
            return UNKNOWN_STATUS
        self._answers_status = True
        online = not printer & 0x08
        cover_open: bool | None = None
        paper: PaperState = "unknown"
        if not online:
            cause = self._query(2)
            if cause is not None:
                cover_open = bool(cause & 0x04)
                if cause & 0x20:
                    paper = "out"
        roll = self._query(4)
        if roll is not None and paper == "unknown":
            paper = "out" if roll & 0x60 else "near_end" if roll & 0x0C else "ok"
        return PrinterStatus(online=online, paper=paper, cover_open=cover_open)

    def close(self) -> None:
        """Close the connection (for TCP, after the printer took the whole job)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.target.scheme == "tcp":
                self._close_tcp()
            else:
                self._device.close()
        except Exception:  # closing must not raise over the real error
            pass

    # --- internals

    def _ensure_open(self) -> None:
        if self._closed:
            raise PrinterError(PrinterErrorKind.IO, "printer connection is closed", uri=self.uri)

    def _write(self, data: bytes) -> None:
        try:
            self._device._raw(data)
        except Exception as exc:  # mapped to a PrinterError
            raise _map_error(exc, self.uri, "send") from exc

    def _query(self, n: int) -> int | None:
        """One ``DLE EOT n`` round trip: the status byte, or None without a valid answer."""
        self._write(DLE_EOT + bytes((n,)))
        try:
            reply = self._read()
        except PrinterError:
            raise
        except Exception:  # no answer: the status stays unknown
            return None
        if not reply:
            return None
        byte = reply[-1]
        if byte & 0x93 != 0x12:  # fixed bits: 1 and 4 set, 0 and 7 clear
            return None
        return byte

    def _read(self) -> bytes:
        if self.target.scheme != "tcp":
            return bytes(self._device._read())
        sock: socket.socket = self._device._device
        previous = sock.gettimeout()
        sock.settimeout(self._status_timeout)
        try:
            data = sock.recv(16)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise _map_error(exc, self.uri, "read status") from exc
        finally:
            sock.settimeout(previous)
        if not data:
            raise PrinterError(
                PrinterErrorKind.OFFLINE, "printer closed the connection", uri=self.uri
            )
        return data

    def _close_tcp(self) -> None:
        sock: socket.socket | None = self._device._device or None
        self._device._device = False  # python-escpos must not close it a second time
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)  # end of job: FIN after the last byte
            deadline = time.monotonic() + max(self._status_timeout, 1.0)
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(256):  # the printer closed its side: it has everything
                    break
        except OSError:
            pass
        finally:
            sock.close()


class PreviewPrinter(Printer):
    """``preview://``: a printer that keeps what it is sent (a python-escpos ``Dummy``)."""

    @property
    def output(self) -> bytes:
        """Every byte sent so far."""
        return bytes(self._device.output)


def open_printer(
    uri: str,
    *,
    timeout: float = 10.0,
    check_status: bool = True,
    status_timeout: float = 0.5,
) -> Printer:
    """Connect to a printer.

    Args:
        uri: Printer URI (see the module documentation).
        timeout: Connect/write timeout in seconds (the URI's ``timeout`` wins).
        check_status: Ask the printer's status before each job where the transport can
            read (the URI's ``status=off`` turns it off).
        status_timeout: How long to wait for a status answer, in seconds.

    Returns:
        The open printer.

    Raises:
        PrinterError: ``BAD_URI``, ``UNSUPPORTED`` (driver library missing), ``OFFLINE``
            (cannot connect or device not found) or ``TIMEOUT``.
    """
    target = parse_printer_uri(uri)
    timeout = target.option_float("timeout", timeout)
    check_status = target.option_bool("status", check_status)
    try:
        device = _make_device(target, timeout)
        if target.scheme != "preview":
            device.open()
    except PrinterError:
        raise
    except Exception as exc:  # mapped to a PrinterError
        raise _map_error(exc, uri, "open") from exc
    cls = PreviewPrinter if target.scheme == "preview" else Printer
    return cls(uri, target, device, check_status=check_status, status_timeout=status_timeout)


@functools.cache
def _escpos_printers() -> Any:
    """python-escpos's printer classes, imported on first use: loading its capability
    database costs a few hundred milliseconds the till should not pay at start-up."""
    from escpos import printer as escpos_printer

    return escpos_printer


@functools.cache
def _network_class() -> Any:
    escpos_printer = _escpos_printers()

    class _Network(escpos_printer.Network):  # type: ignore[misc,name-defined]
        """python-escpos's Network printer, connecting with ``socket.create_connection``.

        The original leaks its socket when the connection fails (a ``ResourceWarning`` per
        offline attempt) and only speaks IPv4.
        """

        def open(self, raise_not_found: bool = True) -> None:
            """Connect to the printer.

            Raises:
                DeviceNotFoundError: the connection failed (the socket error is its cause).
            """
            del raise_not_found  # always raise: open_printer maps the error
            if getattr(self, "_device", False):
                self.close()
            connection: socket.socket | None = None
            try:
                connection = socket.create_connection((self.host, self.port), timeout=self.timeout)
            except OSError as exc:
                raise DeviceNotFoundError(f"could not connect to {self.host}:{self.port}") from exc
            finally:
                self.device: socket.socket | None = connection  # None: not connected

    return _Network


def _make_device(target: PrinterTarget, timeout: float) -> Any:
    escpos_printer = _escpos_printers()
    if target.scheme == "tcp":
        return _network_class()(host=target.host, port=target.port, timeout=timeout)
    if target.scheme == "usb":
        if not escpos_printer.Usb.is_usable():
            raise PrinterError(PrinterErrorKind.UNSUPPORTED, "USB printing needs the pyusb package")
        return escpos_printer.Usb(
            target.vendor_id,
            target.product_id,
            timeout=int(timeout * 1000),  # pyusb counts milliseconds
            in_ep=target.option_int("in_ep", 0x82),
            out_ep=target.option_int("out_ep", 0x01),
        )
    if target.scheme == "serial":
        if not escpos_printer.Serial.is_usable():
            raise PrinterError(
                PrinterErrorKind.UNSUPPORTED, "serial printing needs the pyserial package"
            )
        options: dict[str, Any] = {
            "baudrate": target.option_int("baudrate", 9600),
            "bytesize": target.option_int("bytesize", 8),
            "timeout": target.option_float("timeout", 1.0),
            "xonxoff": target.option_bool("xonxoff", False),
            "dsrdtr": target.option_bool("dsrdtr", True),
        }
        if "parity" in target.options:
            options["parity"] = target.options["parity"].upper()
        if "stopbits" in target.options:
            options["stopbits"] = target.option_int("stopbits", 1)
        return escpos_printer.Serial(devfile=target.path, **options)
    if target.scheme == "file":
        return escpos_printer.File(devfile=target.path)
    return escpos_printer.Dummy()


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception python-escpos wrapped (it raises without ``from``)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _map_error(exc: BaseException, uri: str, action: str) -> PrinterError:
    """A PrinterError for whatever a transport raised."""
    cause = _root_cause(exc)
    name = type(cause).__name__
    detail = f"{action} failed: {cause}" if str(cause) else f"{action} failed: {name}"
    if isinstance(cause, PrinterError):
        return cause
    if isinstance(cause, TimeoutError) or "Timeout" in name:
        return PrinterError(PrinterErrorKind.TIMEOUT, detail, uri=uri)
    if isinstance(exc, DeviceNotFoundError) or isinstance(
        cause, ConnectionError | socket.gaierror | FileNotFoundError | PermissionError
    ):
        return PrinterError(PrinterErrorKind.OFFLINE, detail, uri=uri)
    if isinstance(cause, RuntimeError) and "requires" in str(cause):
        return PrinterError(PrinterErrorKind.UNSUPPORTED, detail, uri=uri)
    if isinstance(cause, OSError):
        return PrinterError(PrinterErrorKind.OFFLINE, detail, uri=uri)
    return PrinterError(PrinterErrorKind.IO, detail, uri=uri)
