"""Names of the TF-Hub text API for BERT (tensorflow/hub `common_saved_model_apis/text.md`).

Defined once here; every module that builds, calls or exports an encoder or a
preprocessor uses these constants.
"""

# Encoder inputs: int32 tensors of shape [batch, seq_length].
INPUT_WORD_IDS = "input_word_ids"
INPUT_MASK = "input_mask"
INPUT_TYPE_IDS = "input_type_ids"
ENCODER_INPUTS = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)

# Encoder outputs.
POOLED_OUTPUT = "pooled_output"  # [batch, hidden]: tanh(dense([CLS] vector))
SEQUENCE_OUTPUT = "sequence_output"  # [batch, seq_length, hidden]: last layer
ENCODER_OUTPUTS = "encoder_outputs"  # list of [batch, seq_length, hidden], one per layer
DEFAULT_OUTPUT = "default"  # alias of pooled_output

# Preprocessor sub-objects.
TOKENIZE = "tokenize"
BERT_PACK_INPUTS = "bert_pack_inputs"

# Special WordPiece tokens.
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# Layouts inside bertkit's cache and model directories.
ENCODER_DIR = "encoder"
PREPROCESSOR_DIR = "preprocessor"
