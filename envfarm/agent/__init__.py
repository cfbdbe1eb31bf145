"""envfarm.agent: rollouts (see DESIGN.md).

Pure: ``tools`` (schemas, tool calls parsed into actions), ``editops`` (the editor's text edits and what
tools show), ``prompts`` (templates per task kind), ``tokens`` (prompt/response ids, loss mask, log-probs),
``chat_wire`` (OpenAI/vLLM bodies), ``recording`` (episode -> record), ``policy`` (the Policy protocol).
I/O: ``loop`` (the agent loop), ``editor`` (tools against an environment), ``driver`` (groups, concurrency,
re-dispatch, verification, streaming), ``openai_policy``, ``hf_policy`` (torch, lazily), ``scripted``,
``policies`` (a job's policy), ``memory_env`` (in-process fake
environment for benchmarks and tests).
"""
