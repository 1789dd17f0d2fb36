"""The JSON Schema of flow files, generated from the model (``python -m maildoctor.flow.schema``).

The committed copy is ``flows/flow.schema.json``; a test fails when it drifts from the model.
"""

from __future__ import annotations

import json

from maildoctor.flow.model import Flow


def generate() -> str:
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(generate(), end="")
