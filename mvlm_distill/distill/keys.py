"""Which config values each part of distillation reads, without importing torch: the workflow
imports this to give each job exactly the values its output depends on (workflow/rules/common.smk)."""

# the keyword arguments of losses.build_loss each loss reads
LOSS_TEMPERATURES = {
    "SD": ("sd_teacher_temperature", "sd_student_temperature"),
    "MCL": ("mcl_temperature",),
}

# the `distillation` keys that change the student (trainer.TrainingSettings less the seed, which
# comes from the grid, and checkpoint_every, which only says how often resume state is saved)
TRAINING_KEYS = ("steps", "batch_size", "lr", "warmup_steps", "weight_decay", "grad_clip")
