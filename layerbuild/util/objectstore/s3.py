"""``s3://bucket/prefix`` stores through boto3: AWS S3 and S3-compatible servers (MinIO, Ceph, moto).

Credentials, region and endpoint come from boto3's own configuration: ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE`` and ``~/.aws``), ``AWS_DEFAULT_REGION``, and
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for a server other than AWS. Writes are conditional:
``IfNoneMatch='*'`` on the PUT (or on completing a multipart upload, for objects over
:data:`MULTIPART_SIZE`), so the first writer wins and the second learns the key exists. A server that
does not implement conditional writes (it answers 501 or rejects the header) is written
HEAD-then-PUT instead, which keeps every object whole but lets two simultaneous writers both write;
the objects are the same bytes for the same name, so either stays. A multipart upload is completed
or aborted, never left half visible.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from layerbuild.util.objectstore.store import Entry, Store, StoreConfigError, StoreError, Transient

MULTIPART_SIZE = 64 << 20
PART_SIZE = 16 << 20
_TRANSIENT_CODES = {"500", "502", "503", "504", "SlowDown", "InternalError", "ServiceUnavailable",
                    "RequestTimeout", "ConditionalRequestConflict"}
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_UNSUPPORTED = {"501", "NotImplemented"}


class S3Store(Store):
    def __init__(self, url: str, timeout: float, retries: int) -> None:
        super().__init__(url, timeout, retries)
        import boto3
        import botocore.config
        parts = urlsplit(url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if not self.bucket or "@" in self.bucket or ":" in self.bucket:
            raise StoreConfigError(f"{url}: an s3 store is s3://BUCKET/PREFIX")
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise StoreConfigError(f"{url}: no AWS credentials (set AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials)")
        config = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                        retries={"total_max_attempts": 1, "mode": "standard"},
                                        max_pool_connections=32)
        self.client = session.client("s3", config=config, region_name=session.region_name or "us-east-1")
        self.conditional = True

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One request; None when the key does not exist; :class:`Transient` for what a retry may cure."""
        import botocore.exceptions as bx
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except bx.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in _NOT_FOUND or status == "404" and code != "NoSuchBucket":
                return None
            if code in _TRANSIENT_CODES or status in _TRANSIENT_CODES:
                raise Transient(f"{code or status} for {method}") from None
            raise _Refused(code or status, f"{self.url}: {method}: {code or status}: "
                           f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")) from None
        except bx.NoCredentialsError:
            raise StoreConfigError(f"{self.url}: no AWS credentials") from None
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                bx.ConnectionClosedError, bx.HTTPClientError) as exc:
            raise Transient(str(exc)) from None

    def _get(self, key: str, target: str) -> bool:
        response = self._call("get_object", Key=self._key(key))
        if response is None:
            return False
        body = response["Body"]
        try:
            with open(target, "wb") as out:
                for block in body.iter_chunks(1 << 20):
                    out.write(block)
        except Exception as exc:
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError | ConnectionError):
                raise
            raise Transient(f"reading {key}: {exc}") from None
        finally:
            body.close()
        return True

    def _head(self, key: str) -> Entry | None:
        response = self._call("head_object", Key=self._key(key))
        if response is None:
            return None
        return Entry(key, int(response["ContentLength"]), response["LastModified"].timestamp())

    def _conditional(self, write: Any, key: str) -> bool:
        """``write(extra)`` with ``IfNoneMatch='*'`` (False when the key exists), or HEAD-then-write where
        the server does not implement it."""
        if self.conditional:
            try:
                write({"IfNoneMatch": "*"})
                return True
            except _Refused as exc:
                if exc.code == "PreconditionFailed" or exc.code == "412":
                    return False
                if exc.code not in _UNSUPPORTED and exc.code not in ("InvalidArgument", "InvalidRequest"):
                    raise
                self.conditional = False
        if self._head(key) is not None:
            return False
        write({})
        return True

    def _put(self, source: str, key: str) -> bool:
        if self._head(key) is not None:
            return False  # no upload of a large object that is there already
        size = os.path.getsize(source)
        if size <= MULTIPART_SIZE:
            def single(extra: dict[str, str]) -> None:
                with open(source, "rb") as body:
                    self._call("put_object", Key=self._key(key), Body=body, **extra)
            return self._conditional(single, key)
        return self._conditional(lambda extra: self._multipart(source, key, extra), key)

    def _multipart(self, source: str, key: str, extra: dict[str, str]) -> None:
        upload = self._call("create_multipart_upload", Key=self._key(key))["UploadId"]
        try:
            parts = []
            with open(source, "rb") as fh:
                number = 1
                while block := fh.read(PART_SIZE):
                    done = self._call("upload_part", Key=self._key(key), UploadId=upload, PartNumber=number,
                                      Body=block)
                    parts.append({"ETag": done["ETag"], "PartNumber": number})
                    number += 1
            self._call("complete_multipart_upload", Key=self._key(key), UploadId=upload,
                       MultipartUpload={"Parts": parts}, **extra)
        except BaseException:
            try:
                self._call("abort_multipart_upload", Key=self._key(key), UploadId=upload)
            except (StoreError, Transient):
                pass  # the store drops incomplete uploads by its own lifecycle rule
            raise

    def _get_record(self, key: str) -> bytes | None:
        response = self._call("get_object", Key=self._key(key))
        if response is None:
            return None
        with response["Body"] as body:
            data: bytes = body.read()
            return data

    def _put_record(self, key: str, data: bytes) -> bool:
        return self._conditional(lambda extra: self._call("put_object", Key=self._key(key), Body=data, **extra), key)

    def _set_record(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(key), Body=data)

    def _delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def _entries(self) -> Iterator[Entry]:
        token: str | None = None
        start = f"{self.prefix}/" if self.prefix else ""
        while True:
            kwargs: dict[str, Any] = {"Prefix": start}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            if page is None:
                return
            for item in page.get("Contents", []):
                when = item["LastModified"]
                yield Entry(item["Key"][len(start):], int(item["Size"]),
                            when.timestamp() if isinstance(when, datetime.datetime) else 0.0)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


class _Refused(StoreError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
