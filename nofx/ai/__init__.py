"""AI traders' I/O side: the LLM client (OpenAI chat-completions protocol), the reply cache, the local
mock server, and the drivers that pump the pure :mod:`nofx.strategies.ai` cycles through a backtest or a
paper run and write the decision log. Nothing here is imported by a lower layer."""
