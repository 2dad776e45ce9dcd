"""Learning on the job: an operator corrects the policy in flight, the policy is fine-tuned on the
corrections (`lnn-control adapt`, simulated; `train --init --interventions` for a robot's bags)."""
