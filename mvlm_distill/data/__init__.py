from mvlm_distill.data.lexicon import vqa_prompt

__all__ = ["vqa_prompt"]
