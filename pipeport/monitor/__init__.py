"""The production loop's research side: read prediction logs (`pipeport serve
--log-predictions`), replay them against the research pipeline or another model (`pipeport
replay`), compare two model versions on real rows (`pipeport diff`). docs/operations.md walks the
loop. Needs the research extra (scikit-learn, pandas); the server never imports this package.
"""
