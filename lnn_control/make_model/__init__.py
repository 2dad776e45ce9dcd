"""`make model`: the shipped CfC policy and its baselines, made from nothing.

    python -m lnn_control.make_model [--quick] [--out models] [--work runs/make_model] [--workers 2]

Every step is an ordinary `lnn-control` command (printed, logged under --work, and written
into the model card), so anyone can rerun any part by hand:

1. collect: the privileged expert flies `episodes` forest episodes, default season, no shift
   (world seeds from seeds.DEMONSTRATIONS on), one rosbag2 bag each;
2. train: the CfC (NCP wiring) by behaviour cloning on those bags, then `dagger_rounds`
   DAgger rounds (config/model_recipe.yaml); LSTM, GRU and MLP baselines sized to the CfC's
   parameter count, trained on the same bags with the same recipe and the same number of
   DAgger rounds (each labels its own rollouts, on the same rollout seeds);
3. eval: CfC, LSTM, GRU, MLP and the expert on forest and urban (`eval_episodes` each), and
   under the standard shift suite in the forest (`suite_episodes` per condition), on world
   seeds from seeds.EVALUATION on, which training never flies; then forest and urban again on
   a second draw of seeds from seeds.SECOND_DRAW on, pooled with the first in the card;
4. ship: `--out`/cfc_forest.pt, `--out`/baselines/{lstm,gru,mlp}_forest.pt, the evaluation
   tables under `--out`/eval/, the model card `--out`/cfc_forest.md with the training curve
   and the evaluation, and the out-of-distribution study table and plot
   (`--out`/ood_study.md, ood_study.png).

The modules, one idea each: `recipe` (how much of everything, the training config), `pipeline`
(the steps as child processes, resumption, --work/steps.json), `card` (the model card and the
study, from this run's files only), `cli` (the command line). Nothing under lnn_control.train
or lnn_control.eval imports this package: it runs them and reads what they write.
"""
