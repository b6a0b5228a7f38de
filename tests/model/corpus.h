/* A few KiB of plain English (written for these tests) to train the byte model on. */
#ifndef FWL_TEST_CORPUS_H
#define FWL_TEST_CORPUS_H

static const char fwl_test_corpus[] =
    "The river town woke slowly on market days. Before the sun cleared the hills, the baker had already "
    "pulled the first loaves from the oven, and the smell of warm bread drifted down the narrow street "
    "toward the water. Fishermen carried their nets to the square, where the stalls were being raised one "
    "by one, and children ran between the carts asking for apples they knew they would not be given. "
    "By the time the church bell rang seven, the whole town seemed to be awake and talking at once.\n"
    "Most people came to buy, but some came only to listen. The old teacher sat on the same bench every "
    "week and wrote down the stories that the traders told: how the winter had been long in the north, "
    "how the price of salt had risen again, how a bridge had fallen in the spring floods and been built "
    "again by the summer. He said that a town remembers itself through the small things people say to "
    "each other, and that if nobody writes them down, the memory of a place slips away like water "
    "through open fingers.\n"
    "In the afternoon the square grew quiet. The traders counted their coins and packed what they had "
    "not sold. A few of them stayed to share a meal at the long table outside the inn, where the owner "
    "brought out bowls of soup and plates of cheese and the last of the morning bread. They spoke about "
    "the roads, the weather, and the prices they expected next month. Nobody was in a hurry; the light "
    "was soft and the evening was still far away.\n"
    "When the lamps were lit, the musicians arrived. There was a woman with a fiddle, a boy with a small "
    "drum, and an old man who played a flute he had made himself from a branch of the willow tree by the "
    "mill. They played the songs that everyone knew, and then some songs that nobody knew, and people "
    "danced to both. The teacher did not dance, but he tapped his foot and smiled, and later he wrote "
    "that it had been one of the best evenings of the year.\n"
    "The next morning the square was empty again. The stalls had been taken down, the carts had left "
    "before dawn, and only the marks of wheels in the dust showed that anything had happened at all. "
    "The baker opened his door, the fishermen walked down to the boats, and the river kept moving past "
    "the town as it always had, carrying the light of the morning toward the sea.\n"
    "People often ask why such a small place should matter. The answer is simple: because people live "
    "there, and what people do with their days is worth knowing. A market is not only a place to trade; "
    "it is a place to meet, to argue, to learn the news and to tell it again. Every town has its own way "
    "of doing these things, and every way is a little different from the others.\n"
    "The teacher kept his notebooks in a wooden box under his bed. When he grew too old to walk to the "
    "square, his students came to read to him from the pages he had written. They read about the bridge "
    "and the floods, about the price of salt and the long northern winters, and about the night the "
    "musicians played until the lamps burned out. He listened with his eyes closed, and sometimes he "
    "laughed at a line he had forgotten writing.\n";

#endif
