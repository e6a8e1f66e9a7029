from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class CodeLanguage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODE_LANGUAGE_UNSPECIFIED: _ClassVar[CodeLanguage]
    CODE_LANGUAGE_PYTHON: _ClassVar[CodeLanguage]
    CODE_LANGUAGE_JAVASCRIPT: _ClassVar[CodeLanguage]
    CODE_LANGUAGE_TYPESCRIPT: _ClassVar[CodeLanguage]
CODE_LANGUAGE_UNSPECIFIED: CodeLanguage
CODE_LANGUAGE_PYTHON: CodeLanguage
CODE_LANGUAGE_JAVASCRIPT: CodeLanguage
CODE_LANGUAGE_TYPESCRIPT: CodeLanguage
