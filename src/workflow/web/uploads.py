"""Reading an evidence upload: a ``multipart/form-data`` body parsed as it streams in, its one file part written
chunk by chunk into the document store (hashed and counted there, refused with 413 at the first chunk past the
limit) and its few small fields kept; the whole file is never held in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from workflow.errors import InvalidInput
from workflow.store.documents import Receiving

MAX_FIELD = 4096  # bytes of any one small field (CSRF token, link)
FILE_FIELD = "file"


@dataclass
class Upload:
    """What an upload form sent: its small fields, and the name the file came with (empty if none was sent)."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    has_file: bool = False


async def read_upload(request: Request, incoming: Receiving) -> Upload:
    """Parse the request's multipart body, streaming the file part into ``incoming``.

    Raises:
        InvalidInput: the body is not multipart/form-data, or a field is too long.
        TooLarge: the file passes the store's limit (the rest of the body is not read).
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("file", "Send the file as multipart/form-data (a form field named “file”)")
    upload = Upload()
    state: dict[str, object] = {"name": "", "is_file": False, "value": bytearray()}
    headers: dict[bytes, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        headers.clear()
        state.update(name="", is_file=False, value=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        is_file = name == FILE_FIELD and b"filename" in disposition
        state.update(name=name, is_file=is_file)
        if is_file:
            upload.filename = disposition[b"filename"].decode("utf-8", "replace")
            upload.has_file = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["is_file"]:
            incoming.write(data[start:end])
            return
        value = state["value"]
        assert isinstance(value, bytearray)
        value.extend(data[start:end])
        if len(value) > MAX_FIELD:
            raise InvalidInput(str(state["name"]) or "form", f"is too long (at most {MAX_FIELD} bytes)")

    def on_part_end() -> None:
        if not state["is_file"] and state["name"]:
            value = state["value"]
            assert isinstance(value, bytearray)
            upload.fields[str(state["name"])] = value.decode("utf-8", "replace")

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    return upload
