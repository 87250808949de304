"""LLM-as-judge: any backend grades each answer with a rubric template (``judge@v1`` by default).

The score is a model's opinion, so it is reported as ``judge_score`` and labelled MODEL-JUDGED in the
JSON (``judge.model_judged``) and the report. The reply is constrained to one digit 1-5 (token masking on
steerable backends, validation + one retry on black-box ones), decoded greedily with a fixed seed, so the
same judge model gives the same grades twice.
"""

from __future__ import annotations

from typing import Any

from genloom.errors import GenloomError
from genloom.prompts import Template
from genloom.prompts import load as load_template
from genloom.types import SamplingParams

GRADES = ["1", "2", "3", "4", "5"]


class Judge:
    def __init__(self, model: Any, template: str = "judge", seed: int = 0) -> None:
        from genloom.generate import Engine

        self.spec = model if isinstance(model, str) else None  # how a worker makes the same judge
        self.template_name = template
        self.engine = Engine(model)
        self.template: Template = load_template(template)
        self.seed = seed
        self.model_id = self.engine.backend.info().id

    def grade(self, question: str, answer: str, reference: str | None, evidence: str) -> float | None:
        """(grade - 1) / 4 in [0, 1]; None when the judge could not produce a grade."""
        from genloom.structured import Constraint

        msgs = self.template.render(
            question=question,
            reference=reference or "(none given)",
            answer=answer or "(the assistant refused to answer)",
            evidence=evidence or "(none)",
        )
        params = SamplingParams(temperature=0, max_tokens=4, seed=self.seed)
        try:
            s = self.engine.stream(msgs, params, truncate=True, constraint=Constraint.choice(GRADES))
            text = "".join(s).strip()
        except GenloomError:
            return None
        return (int(text) - 1) / 4 if text in GRADES else None

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_id, "template": self.template.id, "model_judged": True, "seed": self.seed}
