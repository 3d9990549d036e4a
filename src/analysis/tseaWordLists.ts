/**
 * The word lists of SAELens v1.5's `get_test_gene_sets` (analysis/tsea.py), as data, for
 * `wordListTokenSets(tokenizer.encode, SAELENS_WORD_LISTS)`. Its list of surnames grouped by
 * ethnicity is left out on purpose; pass your own lists for anything else.
 */
const decade = (start: number) => Array.from({ length: 10 }, (_, i) => String(start + i));
const lower = (a: string[]) => a.map((w) => w.toLowerCase());

export const SAELENS_WORD_LISTS: Readonly<Record<string, readonly string[]>> = {
  "1910's": decade(1910),
  "1920's": decade(1920),
  "1930's": decade(1930),
  "1940's": decade(1940),
  "1950's": decade(1950),
  "1960's": decade(1960),
  "1970's": decade(1970),
  "1980's": decade(1980),
  "1990's": decade(1990),
  "2000's": decade(2000),
  "2010's": decade(2010),
  colors: ['red', 'blue', 'yellow', 'green', 'orange', 'purple', 'pink', 'teal', 'lavender', 'maroon', 'olive', 'navy', 'grey', 'black', 'white', 'brown'],
  positive_words: [
    'wonderful', 'amazing', 'fabulous', 'excellent', 'fantastic', 'brilliant', 'awesome', 'spectacular', 'marvelous', 'incredible',
    'superb', 'magical', 'delightful', 'charming', 'beautiful', 'astonishing', 'impressive', 'stunning', 'breathtaking', 'admirable',
    'lovely', 'pleasing', 'enchanting', 'exquisite', 'radiant', 'splendid', 'glorious', 'divine', 'sublime', 'heavenly', 'idyllic',
    'blissful', 'serene', 'tranquil', 'peaceful', 'joyful', 'ecstatic', 'jubilant', 'elated', 'uplifting', 'inspiring', 'revitalizing',
    'refreshing', 'invigorating', 'energizing', 'thrilling', 'captivating', 'enthralling', 'enlightening',
  ],
  negative_words: [
    'terrible', 'awful', 'horrible', 'dreadful', 'abysmal', 'wretched', 'dire', 'appalling', 'horrific', 'disastrous', 'ghastly',
    'hideous', 'gruesome', 'vile', 'foul', 'atrocious', 'heinous', 'abhorrent', 'detestable', 'loathsome', 'repulsive', 'repugnant',
    'disgusting', 'revolting', 'noxious', 'offensive', 'nauseating', 'sickening', 'distasteful', 'unpleasant', 'obnoxious', 'odious',
    'unsavory', 'unpalatable', 'grim', 'gloomy', 'deplorable', 'depressing', 'despicable', 'miserable', 'pathetic', 'pitiful',
    'lamentable', 'direful', 'tragic', 'woeful', 'painful', 'harsh', 'bitter',
  ],
  emotions: ['anger', 'fear', 'joy', 'sadness', 'trust', 'disgust', 'anticipation', 'surprise', 'love', 'hate', 'envy', 'compassion', 'pride', 'shame', 'guilt', 'hope', 'despair'],
  boys_names: ['Michael', 'James', 'John', 'Robert', 'David', 'William', 'Joseph', 'Charles', 'Thomas', 'Christopher'],
  girls_names: ['Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen'],
  spanish_words: ['hola', 'amor', 'feliz', 'casa', 'familia', 'gracias', 'libro', 'mañana', 'noche', 'amigo'],
  french_words: ['bonjour', 'amour', 'heureux', 'maison', 'famille', 'merci', 'livre', 'matin', 'nuit', 'ami'],
  neuroscience_terms: lower([
    'Neuron', 'Synapse', 'Axon', 'Dendrite', 'Neuroplasticity', 'Cerebral cortex', 'Neurotransmitter', 'Myelin sheath',
    'Action potential', 'Grey matter', 'White matter', 'Neurogenesis', 'Neurotransmission', 'Neurodegeneration',
    'Neuroinflammation', 'Neurodevelopment', 'Neuroimaging', 'Neuropharmacology', 'Neurophysiology', 'Neuropsychology',
  ]),
  economics_terms: lower([
    'Supply and Demand', 'Elasticity', 'Gross Domestic Product (GDP)', 'Inflation', 'Monetary policy', 'Fiscal policy',
    'Marginal utility', 'Opportunity cost', 'Equilibrium price', 'Market efficiency', 'Monopoly', 'Oligopoly',
    'Monopolistic competition', 'Perfect competition', 'Economic surplus', 'Consumer surplus', 'Producer surplus',
    'Deadweight loss', 'Economic rent', 'Externality',
  ]),
  capital_cities: ['Washington, D.C.', 'Ottawa', 'London', 'Paris', 'Berlin', 'Tokyo', 'Moscow', 'Beijing', 'Canberra', 'New Delhi'],
  countries: ['United States', 'Canada', 'United Kingdom', 'France', 'Germany', 'Japan', 'Russia', 'China', 'Australia', 'India'],
  ologies: [
    'Biology', 'Ecology', 'Psychology', 'Sociology', 'Geology', 'Meteorology', 'Zoology', 'Botany', 'Anthropology', 'Astrology',
    'Astronomy', 'Theology', 'Philology', 'Pharmacology', 'Pathology', 'Oceanology', 'Toxicology', 'Volcanology', 'Entomology',
    'Paleontology', 'Neurology', 'Ethnology', 'Criminology', 'Seismology', 'Cytology',
  ],
};
